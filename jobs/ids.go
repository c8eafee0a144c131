package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrStopping is what a Start returns once its jobs are closing.
var ErrStopping = errors.New("the server is stopping")

// runID names a run: when it started, a counter (two runs in a second)
// and its scenario's name, so a folder listing reads in order.
func runID(now time.Time, seq int, name string) string {
	return fmt.Sprintf("%s-%03d-%s", now.UTC().Format("20060102-150405"), seq%1000, slug(name))
}

// planID names a plan: when it started and 4 random bytes.
func planID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Slug is s as a file name: lower case letters, digits and dashes, at
// most 40 characters.
func Slug(s string) string { return slug(s) }

func slug(s string) string {
	s = strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			return c
		case c >= 'A' && c <= 'Z':
			return c + 'a' - 'A'
		}
		return '-'
	}, s)
	return strings.Trim(s[:min(len(s), 40)], "-")
}
