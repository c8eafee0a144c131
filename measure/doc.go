// Package measure is the format of published measurement rows
// (testdata/published/MEASUREMENTS.md): one published figure per row and
// the conditions it was measured under, so that the twin can reproduce the
// same experiment and compare. It is the one reader of measurement rows in
// the project: the fitters and `fleettwin validate` read rows with Read.
//
// Reading is strict. The header must be the documented columns in their
// order, lines starting with # are comments, and every error names the
// file, line and column and says what is wrong. What a row needs for its
// kind is checked as it is read: a closed-loop row without concurrency, a
// poisson row without a rate or a bench-decode row reporting a serving
// metric is an error, not a row that fails later.
package measure
