package render

import (
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The Harness schema writes a few patterns with lookaround assertions
// ((?=…), (?!…)), which Go's RE2-based regexp package does not support. The
// engine below compiles every other pattern with regexp, and gives each of
// these few an exact hand-written matcher. A pattern that is neither
// compiles to an error, so a new lookaround in a schema update fails loudly
// instead of being skipped.

// executionInputBranch is the lookahead alternative of Harness's timeout
// patterns: an expression whose tail does not end in .executionInput().
const executionInputBranch = `(.*<\+.*>(?!.*\.executionInput\(\)).*)`

// lookaroundMatchers holds the exact semantics of each lookaround pattern
// found in the schema, as unanchored searches (JSON Schema's "pattern").
var lookaroundMatchers = map[string]func(string) bool{
	// Non-blank: some non-space character, and a single line.
	`^(?=\s*\S).*$`: func(s string) bool {
		return !strings.Contains(s, "\n") && strings.TrimLeft(s, "\t\n\f\r ") != ""
	},
	// Not a runtime input that is an execution-time input.
	`^(?!<\+input>.*\.executionInput\(\)(.*)$)`: func(s string) bool {
		rest, ok := strings.CutPrefix(s, "<+input>")
		return !(ok && !strings.Contains(rest, "\n") && strings.Contains(rest, ".executionInput()"))
	},
	// A single line without any expression.
	`^(?!.*<\+).*$`: func(s string) bool {
		return !strings.Contains(s, "\n") && !strings.Contains(s, "<+")
	},
	// A single line without a secret reference.
	`^(?!.*<\+secrets\.getValue\().*$`: func(s string) bool {
		return !strings.Contains(s, "\n") && !strings.Contains(s, "<+secrets.getValue(")
	},
	// An environment variable name that is not reserved.
	`^(?!HARNESS_)(?!AWS_)(?!GOOGLE_)(?!AZURE_)(?!PATH$)(?!HOME$)[A-Za-z_][A-Za-z0-9_]*$`: func(s string) bool {
		for _, p := range []string{"HARNESS_", "AWS_", "GOOGLE_", "AZURE_"} {
			if strings.HasPrefix(s, p) {
				return false
			}
		}
		return s != "PATH" && s != "HOME" && envNameRE.MatchString(s)
	},
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// funcRegexp is a Regexp given by a matcher function.
type funcRegexp struct {
	src   string
	match func(string) bool
}

func (r funcRegexp) String() string            { return r.src }
func (r funcRegexp) MatchString(s string) bool { return r.match(s) }

// compileRegexp is the schema compiler's regexp engine.
func compileRegexp(src string) (jsonschema.Regexp, error) {
	if re, err := regexp.Compile(src); err == nil {
		return re, nil
	}
	if m, ok := lookaroundMatchers[src]; ok {
		return funcRegexp{src: src, match: m}, nil
	}
	// The duration patterns: alternatives joined by |, one of which is the
	// lookahead branch. Alternation distributes over matching, so the
	// pattern matches when the rest matches or the branch does.
	if strings.Count(src, executionInputBranch) == 1 {
		rest, err := regexp.Compile(strings.Replace(src, executionInputBranch, `([^\s\S])`, 1))
		if err != nil {
			return nil, err
		}
		return funcRegexp{src: src, match: func(s string) bool {
			return rest.MatchString(s) || matchExpressionTail(s)
		}}, nil
	}
	_, err := regexp.Compile(src)
	return nil, err
}

// matchExpressionTail reports whether s contains "<+", a later ">", and no
// newline from the "<+" on, with the text after that ">" free of
// ".executionInput()": the search `.*<\+.*>(?!.*\.executionInput\(\)).*$`.
func matchExpressionTail(s string) bool {
	for i := strings.Index(s, "<+"); i >= 0; {
		line := s[i:]
		if strings.Contains(line, "\n") {
			// The match must reach the end of s on one line; a later
			// "<+" after the newline may still do so.
			next := strings.Index(line, "\n")
			j := strings.Index(line[next:], "<+")
			if j < 0 {
				return false
			}
			i += next + j
			continue
		}
		for j := 2; j < len(line); j++ {
			if line[j] == '>' && !strings.Contains(line[j+1:], ".executionInput()") {
				return true
			}
		}
		return false
	}
	return false
}
