package calibrate

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// promptShaper makes prompts of a target token count. It learns the
// server's tokens per character and fixed overhead (chat template, BOS)
// from the usage of every reply, so prompts converge on their target
// whatever the tokenizer.
type promptShaper struct {
	mu       sync.Mutex
	perChar  float64
	overhead float64
	n        int
	// least-squares sums of (chars, tokens)
	sx, sy, sxx, sxy float64
}

func (p *promptShaper) observe(chars, tokens int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, y := float64(chars), float64(tokens)
	p.n++
	p.sx += x
	p.sy += y
	p.sxx += x * x
	p.sxy += x * y
	n := float64(p.n)
	if d := n*p.sxx - p.sx*p.sx; p.n >= 2 && d > 1e-9*n*p.sxx {
		p.perChar = (n*p.sxy - p.sx*p.sy) / d
		p.overhead = (p.sy - p.perChar*p.sx) / n
	} else {
		p.overhead = y - p.perChar*x
	}
	if !(p.perChar > 0.01) {
		p.perChar, p.overhead = 1, 0
	}
}

// words are drawn at random so that no two prompts share a prefix the
// server could serve from its prefix cache.
var words = strings.Fields("time year people way day man thing woman life child world school state family student group country problem hand part place case week company system program question work government number night point home water room mother area money story fact month lot right study book eye job word business issue side kind head house service friend father power hour game line end member law car city community name president team minute idea kid body information back parent face others level office door health person art war history party result change morning reason research girl guy moment air teacher force education")

func (p *promptShaper) prompt(rng *rand.Rand, tokens int) string {
	p.mu.Lock()
	chars := int((float64(tokens) - p.overhead) / p.perChar)
	p.mu.Unlock()
	chars = max(chars, 1)
	var b strings.Builder
	for b.Len() < chars {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()[:chars]
}

// progress prints done/total, rate and time left, at most twice a second.
type progress struct {
	mu          sync.Mutex
	w           io.Writer
	total, done int
	start, last time.Time
	exp         string
	counted     int
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.counted += n
	if p.w == nil || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	rate := float64(p.counted) / el
	left := "?"
	if rate > 0 && p.total >= p.done {
		left = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "calibrate: %d/%d requests, %.2f req/s, %s left [%s]\n", p.done, p.total, rate, left, p.exp)
}

func (p *progress) finish() {
	if p.w != nil {
		fmt.Fprintf(p.w, "calibrate: %d/%d requests in %v\n", p.done, p.total, time.Since(p.start).Round(time.Second))
	}
}
