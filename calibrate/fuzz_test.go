package calibrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzReadRequests(f *testing.F) {
	for _, seed := range []string{
		goodRecord + "\n" + goodRecord + "\n",
		goodRecord + "\n" + goodRecord[:50],
		goodRecord + "\n" + goodRecord[:50] + "\n" + goodRecord + "\n",
		goodRecord + "\n" + strings.Repeat("\x00", 300),
		"\xff\xfe\x00{\"experiment\":\n",
		`{"experiment":"a","attempt":1e400,"first_ns":nan}` + "\n",
		`{"experiment":"a","attempt":99999999999999999999999,"chunk_ns":[1,2,` + strings.Repeat("9", 400) + `]}` + "\n",
		`{"sent":"not a time","status":-1,"prompt_tokens":-5}` + "\n",
		strings.Repeat(`{"model":`, 3000) + strings.Repeat("}", 3000) + "\n",
		strings.Repeat("[", 20000) + "\n" + goodRecord,
		"null\n[]\n\"x\"\n",
		"\n\n \r\n\t\n",
	} {
		f.Add([]byte(seed))
	}
	// One folder for every input, and no fsync: thousands of inputs a
	// second, not tens.
	dir := f.TempDir()
	fsync = func(*os.File) error { return nil }
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = os.Remove(filepath.Join(dir, RequestsFile+TornSuffix))
		if err := os.WriteFile(filepath.Join(dir, RequestsFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, skipped, err := ReadRequests(dir)
		if err != nil {
			if !strings.Contains(err.Error(), RequestsFile+":") {
				t.Fatalf("error does not name the file and line: %v", err)
			}
			return
		}
		if skipped > 1 || skipped < 0 {
			t.Fatalf("%d skipped: only a last line can be torn", skipped)
		}
		_ = Latest(recs)
		// Repairing the tail, then appending a record, leaves a file
		// that reads back with nothing skipped and the record last.
		path := filepath.Join(dir, RequestsFile)
		if _, _, err := repairTail(path, validRequest); err != nil {
			t.Fatal(err)
		}
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(goodRecord + "\n"); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		after, skipped2, err := ReadRequests(dir)
		if err != nil || skipped2 != 0 || len(after) != len(recs)+1 || after[len(after)-1].Experiment != "a" {
			t.Fatalf("after repair and append: %d records (had %d), %d skipped, %v", len(after), len(recs), skipped2, err)
		}
	})
}
