package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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

// A plan that searches disaggregation: the table, the winner's line and
// the CSV say which configurations split prefill from decode and how.
func TestPlanNamesThePools(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "disagg.toml")
	src := `name = "disagg"
seed = 3
window_s = 120
warmup_s = 30
verify_seeds = 1
max_cost_ratio = 0

[models.qwen3-8b.slo]
ttft_s = 3.0
tpot_s = 0.02

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 22.0

[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 8192.0
stddev = 4096.0
min = 64
max = 32768

[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 64.0
stddev = 32.0
min = 2
max = 1024

[search]
hardware = ["hgx-h100-8"]
engines = ["vllm"]
quants = ["fp8"]
disaggregation = [false, true]
max_nodes = 4
`
	if err := os.WriteFile(plan, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "plan.csv")
	out, stderr, code := fleettwin(t, "plan", plan, "--quiet", "--csv", csvPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pools := regexp.MustCompile(`disaggregated: qwen3-8b prefill (\d) \+ decode (\d) dp`)
	m := pools.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no pools in the table:\n%s", out)
	}
	if p, d := m[1][0]-'0', m[2][0]-'0'; p+d != 8 {
		t.Errorf("pools %s + %s: want the board's eight GPUs", m[1], m[2])
	}
	if w := regexp.MustCompile(`(?m)^winner: .*$`).FindString(out); !pools.MatchString(w) {
		t.Errorf("winner line %q: want the disaggregated layout (it needs one board, co-located two)", w)
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	kinds := map[string]string{}
	for _, r := range rows[1:] {
		kinds[r[col["disaggregated"]]] = r[col["pools"]]
	}
	if len(kinds) != 2 || kinds["false"] != "" || !strings.Contains(kinds["true"], "prefill") {
		t.Errorf("CSV disaggregated → pools %v: want one of each, pools only where disaggregated", kinds)
	}
}
