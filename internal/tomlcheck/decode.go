package tomlcheck

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"

	"github.com/BurntSushi/toml"
)

// Decode bounds data with Guard, decodes it into v and rejects every nan and
// inf in it. Every TOML reader of the project goes through it, so no file
// can exhaust the decoder's stack or memory or slip a non-finite number past
// a range check; errors are an ErrorList naming file, line and field.
func Decode(name string, data []byte, v any) (toml.MetaData, error) {
	if err := Guard(data); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return toml.MetaData{}, ErrorList{{File: name, Line: le.Line, Kind: TooLarge, Msg: le.Msg}}
		}
		return toml.MetaData{}, ErrorList{{File: name, Kind: TooLarge, Msg: err.Error()}}
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(v)
	if err != nil {
		return md, DecodeError(name, err)
	}
	if bad := NonFinite(v); len(bad) > 0 {
		errs := NewErrors(name, data)
		for _, k := range bad {
			errs.AddKind(OutOfRange, k, "must be a finite number, not nan or inf")
		}
		return md, errs.Err()
	}
	return md, nil
}

// DecodeError turns the TOML library's decode errors into an ErrorList
// holding one Error of kind Syntax with the file, line and key.
func DecodeError(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if msg == "" {
			msg = pe.Error()
		}
		return ErrorList{{File: name, Line: pe.Position.Line, Field: pe.LastKey, Kind: Syntax, Msg: msg}}
	}
	// Type mismatches come back as plain errors of the form
	// `toml: line N (last key "k"): message`.
	if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return ErrorList{{File: name, Line: line, Field: m[2], Kind: Syntax, Msg: m[3]}}
	}
	return ErrorList{{File: name, Kind: Syntax, Msg: err.Error()}}
}

var typeErrorRE = regexp.MustCompile(`^toml: line (\d+) \(last key "(.*?)"\): (.*)$`)
