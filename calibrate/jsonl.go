package calibrate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// mid-write) is skipped and reported in the error-free count skipped; any
// other malformed line is an error naming its line.
func ReadRequests(dir string) (recs []RequestRecord, skipped int, err error) {
	path := filepath.Join(dir, RequestsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	var pending error
	for sc.Scan() {
		line++
		if pending != nil {
			return nil, 0, pending
		}
		var r RequestRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			pending = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		recs = append(recs, r)
	}
	if pending != nil {
		skipped = 1 // only the last line is torn: the write that was cut
	}
	return recs, skipped, errors.Join(sc.Err())
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
