package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Seconds formats a latency as the tables print it: "55.9 ms" below a
// second, "3.58 s" above, thousands separated past 1,000 s.
func Seconds(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case a < 1:
		return fmt.Sprintf("%.1f ms", 1e3*v)
	case a < 100:
		return fmt.Sprintf("%.2f s", v)
	case a < 1000:
		return fmt.Sprintf("%.1f s", v)
	}
	return Thousands(fmt.Sprintf("%.0f", v)) + " s"
}

// Limit formats a target in seconds as written, without trailing zeros:
// "3 s", "100 ms", "2.5 s".
func Limit(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if math.Abs(v) < 1 {
		return strconv.FormatFloat(1e3*v, 'g', -1, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'g', -1, 64) + " s"
}

// Percent formats a share as a percentage: 0.7 is "70.0%".
func Percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// USD formats dollars with thousands separators and the given decimals:
// USD(4699, 0) is "$4,699".
func USD(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	s := Thousands(strconv.FormatFloat(math.Abs(v), 'f', decimals, 64))
	if v < 0 {
		return "-$" + s
	}
	return "$" + s
}

// Thousands puts commas between the thousands of a formatted number's
// integer part: "3000000.5" is "3,000,000.5".
func Thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String() + frac
}
