package calibrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The append-only files of a run directory (requests.jsonl,
// telemetry.jsonl, server_metrics.jsonl) hold one JSON object per line,
// each appended in one write. A process killed mid-write, or a full disk,
// leaves a torn last line: part of a record and no newline. Readers skip
// it; a runner resuming the run repairs the tail first (repairTail), so
// its records do not glue onto the torn one and make it a bad line in the
// middle of the file.

// maxLine bounds one line of a run file. A request record is a few bytes
// per streamed chunk; 64 MiB is millions of chunks.
const maxLine = 64 << 20

// lineReader reads lines of any length, keeping at most max bytes of one.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its newline, and long when the line
// was longer than max (its content is then dropped). It returns io.EOF
// after the last line; an unterminated last line is returned like any.
func (l *lineReader) next() (line []byte, long bool, err error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.r.ReadSlice('\n')
		if !long {
			if len(l.buf)+len(frag) > l.max+1 {
				long, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(frag) == 0 && len(l.buf) == 0 && !long:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		return bytes.TrimSuffix(l.buf, []byte{'\n'}), long, nil
	}
}

// ReadRequests reads requests.jsonl. A torn last line (the process died
// mid-write) is skipped and counted in skipped; blank lines are ignored;
// any other malformed line is an error naming its line.
func ReadRequests(dir string) (recs []RequestRecord, skipped int, err error) {
	path := filepath.Join(dir, RequestsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	lr := newLineReader(f, maxLine)
	line := 0
	var pending error // a bad line: an error unless it is the last
	for {
		b, long, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: after line %d: %w", path, line, err)
		}
		line++
		if !long && blank(b) {
			continue
		}
		if pending != nil {
			return nil, 0, pending
		}
		if long {
			pending = fmt.Errorf("%s:%d: line is longer than %d bytes", path, line, maxLine)
			continue
		}
		var r RequestRecord
		if err := json.Unmarshal(b, &r); err != nil {
			pending = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		recs = append(recs, r)
	}
	if pending != nil {
		skipped = 1 // only the last line is torn: the write that was cut
	}
	return recs, skipped, nil
}

// validRequest reports whether a line is a whole request record.
func validRequest(b []byte) bool {
	var r RequestRecord
	return json.Unmarshal(b, &r) == nil
}

// validObject reports whether a line is a whole JSON object.
func validObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// fsync makes a repair durable before the run appends; the fuzz test,
// which repairs thousands of files a second, swaps it out.
var fsync = (*os.File).Sync

// TornSuffix names the file beside a run file that keeps the bytes
// repairTail cut off it, so nothing written is destroyed.
const TornSuffix = ".torn"

// repairTail makes the last line of an append-only run file whole before
// more is appended. A last record that is complete but lacks its newline
// gets one; a last line that is not a valid record (valid says) is cut
// off, its bytes appended to path+TornSuffix first. It returns the bytes
// cut, and completed when it only added a newline. A missing file is
// fine.
func repairTail(path string, valid func([]byte) bool) (cut int64, completed bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size := st.Size()
	if size == 0 {
		return 0, false, nil
	}
	var lastByte [1]byte
	if _, err := f.ReadAt(lastByte[:], size-1); err != nil {
		return 0, false, err
	}
	terminated := lastByte[0] == '\n'
	// The last record is the line of the last byte that is not blank:
	// blank lines after it are ignored by the readers.
	body, err := scanBack(f, size, func(c byte) bool { return !isSpace(c) })
	if err != nil || body < 0 {
		return 0, false, err // nothing but blanks
	}
	body++
	nl, err := scanBack(f, body, func(c byte) bool { return c == '\n' })
	if err != nil {
		return 0, false, err
	}
	start := nl + 1
	ok := false
	if body-start <= maxLine {
		tail := make([]byte, body-start)
		if _, err := f.ReadAt(tail, start); err != nil {
			return 0, false, err
		}
		ok = valid(tail)
	}
	switch {
	case ok && terminated:
		return 0, false, nil
	case ok:
		// The record was written whole; only its newline is missing.
		if _, err := f.WriteAt([]byte{'\n'}, size); err != nil {
			return 0, false, err
		}
		return 0, true, fsync(f)
	}
	if err := keepTorn(f, path+TornSuffix, start, size); err != nil {
		return 0, false, err
	}
	if err := f.Truncate(start); err != nil {
		return 0, false, err
	}
	return size - start, false, fsync(f)
}

// scanBack returns the position of the last byte before end that match
// accepts, or -1, reading backwards in blocks.
func scanBack(f *os.File, end int64, match func(byte) bool) (int64, error) {
	buf := make([]byte, 64<<10)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return 0, err
		}
		for i := n - 1; i >= 0; i-- {
			if match(buf[i]) {
				return pos + i, nil
			}
		}
	}
	return -1, nil
}

// blank reports whether a line holds only JSON whitespace.
func blank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// keepTorn appends f's bytes [from, to) to the file torn, on its own line,
// and syncs it before the caller cuts them.
func keepTorn(f *os.File, torn string, from, to int64) error {
	t, err := os.OpenFile(torn, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(t)
	_, err = io.Copy(w, io.NewSectionReader(f, from, to-from))
	if err == nil {
		err = w.WriteByte('\n')
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = fsync(t)
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	return err
}

// Latest keeps, per experiment, the records of its latest attempt.
func Latest(recs []RequestRecord) map[string][]RequestRecord {
	last := map[string]int{}
	for _, r := range recs {
		last[r.Experiment] = max(last[r.Experiment], r.Attempt)
	}
	out := map[string][]RequestRecord{}
	for _, r := range recs {
		if r.Attempt == last[r.Experiment] {
			out[r.Experiment] = append(out[r.Experiment], r)
		}
	}
	return out
}
