package verdict

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Mark is an answer's status as the text and the pages show it.
func (s Status) Mark() string {
	switch s {
	case Pass:
		return "yes"
	case Fail:
		return "NO"
	case Caveat:
		return "only if"
	}
	return "-"
}

// WriteText writes the verdict as `simulate` and `tco` print it: the
// summary, then one line per answer.
func (v Verdict) WriteText(w io.Writer) error {
	head := "verdict"
	if v.Baseline != "" {
		head += " against " + v.Baseline
	}
	if _, err := fmt.Fprintf(w, "%s: %s\n", head, v.Summary); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range v.Answers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Question, a.Status.Mark(), a.Text)
	}
	return tw.Flush()
}

// String is WriteText's output.
func (v Verdict) String() string {
	var b strings.Builder
	v.WriteText(&b)
	return b.String()
}
