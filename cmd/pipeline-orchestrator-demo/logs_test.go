package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// TestDemoLogsAreStrictJSON plays the demo with JSON logs at debug level
// and parses every line strictly: one JSON object per line, no key twice
// in any object (strict parsers reject those), every line with a level, a
// time and a message.
func TestDemoLogsAreStrictJSON(t *testing.T) {
	t.Parallel() // the demo mostly waits: its retries back off for seconds
	stderr := &demoOnce(t).stderr
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		lines++
		if err := strictObject(line); err != nil {
			t.Fatalf("log line %d: %v\n%s", lines, err, line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"level", "time", "message"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line %d has no %q: %s", lines, k, line)
			}
		}
	}
	if lines < 50 {
		t.Errorf("only %d log lines at debug level: the demo's server logs are not reaching stderr", lines)
	}
}

// strictObject checks that b is exactly one JSON object whose objects, at
// every depth, have unique keys.
func strictObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	if err := strictValueAfter(dec, json.Delim('{')); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more than one JSON value on the line")
	}
	return nil
}

// strictValueAfter reads the rest of an object or array whose opening
// delimiter was just read.
func strictValueAfter(dec *json.Decoder, open json.Delim) error {
	seen := map[string]bool{}
	for dec.More() {
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := tok.(string)
			if seen[key] {
				return fmt.Errorf("key %q twice in one object", key)
			}
			seen[key] = true
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
			if err := strictValueAfter(dec, d); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token() // the closing delimiter
	return err
}

func TestStrictObjectFindsDuplicateKeys(t *testing.T) {
	for line, ok := range map[string]bool{
		`{"a":1,"b":{"c":[1,{"d":2}]}}`: true,
		`{"a":1,"a":2}`:                 false,
		`{"a":{"b":1,"b":2}}`:           false,
		`{"a":1} {"b":2}`:               false,
		`[1]`:                           false,
	} {
		if err := strictObject([]byte(line)); (err == nil) != ok {
			t.Errorf("strictObject(%s) = %v, want ok %v", line, err, ok)
		}
	}
}
