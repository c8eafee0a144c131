package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plans/seed-10x.toml searches the hgx-h100-8 board: its rows in the
// terminal table, the CSV and the JSON name the layout.
func TestPlanNamesTheLayout(t *testing.T) {
	dir := t.TempDir()
	csvPath, jsonPath := filepath.Join(dir, "plan.csv"), filepath.Join(dir, "plan.json")
	out, stderr, code := fleettwin(t, "plan", "../../plans/seed-10x.toml", "--quiet", "--csv", csvPath, "--json", jsonPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "winner: #") {
		t.Errorf("no winner in:\n%s", out)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	boards := 0
	for _, r := range rows[1:] {
		switch r[col["hardware"]] {
		case "hgx-h100-8":
			boards++
			if r[col["tp"]] == "" || r[col["dp"]] == "" || r[col["speculative"]] != "off" {
				t.Errorf("board row %v: want tp, dp and speculative", r)
			}
		default:
			if r[col["tp"]] != "" || r[col["dp"]] != "" {
				t.Errorf("device row %v: want no layout", r)
			}
		}
	}
	if boards == 0 {
		t.Fatal("no hgx-h100-8 row in the CSV")
	}
	var res struct {
		Ranked []struct {
			Hardware string `json:"hardware"`
			TP       int    `json:"tp"`
			DP       []int  `json:"dp"`
		} `json:"ranked"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Ranked {
		if o.Hardware == "hgx-h100-8" && (o.TP == 0 || len(o.DP) == 0) {
			t.Errorf("JSON %+v: want tp and dp", o)
		}
	}
}
