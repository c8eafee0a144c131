package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// shareGPTTurn is one turn of a conversation. Tokens, when present, is
// the turn's length; else its text is counted at chars_per_token.
type shareGPTTurn struct {
	From   string `json:"from"`
	Value  string `json:"value"`
	Tokens *int   `json:"tokens"`
}

// The speakers of a turn: a prompt (the user or the system prompt) or a
// reply (the model). ShareGPT spells the model gpt, chatgpt, bard or bing;
// the OpenAI-style copies spell them user and assistant.
var (
	shareGPTPrompt = []string{"human", "user", "system"}
	shareGPTReply  = []string{"gpt", "assistant", "chatgpt", "bard", "bing", "model"}
)

// ParseShareGPT reads vLLM/ShareGPT-style conversations: a JSON array of
// {"id", "conversations": [{"from", "value"[, "tokens"]}, ...]}. Each
// conversation is one request, as vLLM's ShareGPT benchmark takes it: its
// turns up to the first reply that follows a user turn are the prompt and
// that reply is the output; a conversation without such a reply is
// skipped. A turn's length is its "tokens" when given, else its characters
// divided by charsPerToken (rounded up), which is then required. The
// records carry no arrival times (TimeConversations gives them).
func ParseShareGPT(name string, r io.Reader, charsPerToken float64) ([]TraceRecord, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	p := shareGPTParser{name: name, data: data, cpt: charsPerToken}
	return p.parse()
}

type shareGPTParser struct {
	name string
	data []byte
	cpt  float64
}

// at is "file:line:col" of a byte offset of the file.
func (p *shareGPTParser) at(off int64) string {
	off = min(max(off, 0), int64(len(p.data)))
	before := p.data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf("%s:%d:%d", p.name, line, col)
}

// start is the offset of the value that follows off: past spaces and the
// comma that separates it from the previous one.
func (p *shareGPTParser) start(off int64) int64 {
	for off < int64(len(p.data)) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

func (p *shareGPTParser) decodeError(base int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s: %v", p.at(base+se.Offset-1), se)
	case errors.As(err, &te):
		return fmt.Errorf("%s: %s: want %v, got JSON %s", p.at(base+te.Offset-1), te.Field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%s: unexpected end of the file", p.at(int64(len(p.data))))
	}
	return fmt.Errorf("%s: %v", p.at(base), err)
}

func (p *shareGPTParser) parse() ([]TraceRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(p.data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%s: want a JSON array of conversations", p.at(p.start(0)))
	}
	var out []TraceRecord
	n := 0
	for dec.More() {
		off := p.start(dec.InputOffset())
		var conv struct {
			ID            json.RawMessage   `json:"id"`
			Conversations []json.RawMessage `json:"conversations"`
		}
		if err := dec.Decode(&conv); err != nil {
			return nil, p.decodeError(off, err)
		}
		n++
		if conv.Conversations == nil {
			return nil, fmt.Errorf("%s: conversation %d: conversations: required (a list of turns)", p.at(off), n)
		}
		rec, ok, err := p.conversation(off, conv.Conversations)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, p.decodeError(dec.InputOffset(), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: none of %d conversations has a user turn and a reply", p.name, n)
	}
	return out, nil
}

// conversation reads one conversation's turns (each located by searching
// the file from the conversation's start, since a decoder reports no
// offsets inside a value) and returns its request, or false to skip it.
func (p *shareGPTParser) conversation(off int64, turns []json.RawMessage) (TraceRecord, bool, error) {
	pos := off
	in, sawUser := 0, false
	for i, raw := range turns {
		at := pos
		if j := bytes.Index(p.data[pos:], raw); j >= 0 { // a RawMessage is a verbatim copy
			at = pos + int64(j)
			pos = at + int64(len(raw))
		}
		where := fmt.Sprintf("%s: conversations.%d", p.at(at), i)
		var t shareGPTTurn
		if err := json.Unmarshal(raw, &t); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return TraceRecord{}, false, fmt.Errorf("%s.%s: want %v, got JSON %s", where, te.Field, te.Type, te.Value)
			}
			return TraceRecord{}, false, fmt.Errorf("%s: want a turn {\"from\", \"value\"}: %v", where, err)
		}
		from := strings.ToLower(strings.TrimSpace(t.From))
		prompt, reply := slices.Contains(shareGPTPrompt, from), slices.Contains(shareGPTReply, from)
		if !prompt && !reply {
			return TraceRecord{}, false, fmt.Errorf("%s.from: unknown speaker %q; valid: %s, %s", where, t.From, strings.Join(shareGPTPrompt, ", "), strings.Join(shareGPTReply, ", "))
		}
		tok, err := p.tokens(where, t)
		if err != nil {
			return TraceRecord{}, false, err
		}
		if reply && sawUser {
			if in > MaxTokens {
				return TraceRecord{}, false, fmt.Errorf("%s: the prompt before this reply is %d tokens, more than %d", where, in, MaxTokens)
			}
			return TraceRecord{InputTokens: max(in, 1), OutputTokens: max(tok, 1)}, true, nil
		}
		in += tok
		sawUser = sawUser || from == "human" || from == "user"
	}
	return TraceRecord{}, false, nil
}

// tokens is a turn's length: its tokens field, or its text at chars per
// token.
func (p *shareGPTParser) tokens(where string, t shareGPTTurn) (int, error) {
	if t.Tokens != nil {
		if *t.Tokens < 0 || *t.Tokens > MaxTokens {
			return 0, fmt.Errorf("%s.tokens: want between 0 and %d, got %d", where, MaxTokens, *t.Tokens)
		}
		return *t.Tokens, nil
	}
	if !(p.cpt > 0) {
		return 0, fmt.Errorf("%s: the turn gives no \"tokens\": set chars_per_token to count its text", where)
	}
	chars := utf8.RuneCountInString(t.Value)
	n := math.Ceil(float64(chars) / p.cpt)
	if n > MaxTokens {
		return 0, fmt.Errorf("%s.value: %d characters are more than %d tokens at %g characters per token", where, chars, MaxTokens, p.cpt)
	}
	return int(n), nil
}
