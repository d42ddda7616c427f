package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The configuration is decoded by walking yaml.v3's node tree beside the
// Config struct rather than by yaml.Decoder.Decode into it: the node tree
// keeps the line and column of every key and value, so each problem can
// point at the exact place and use the key's dotted name instead of a Go
// type name.

// origin is where a configuration value came from. The zero origin is the
// default.
type origin struct {
	file      string // set for a value from the YAML file
	line, col int    // position in file (col is 0 when unknown)
	env       string // set for a value from the environment
	secret    string // the secret file the value was read from, if any
}

// where is the origin as a message prefix: "config.yml:12:5",
// "PIPELINE_ORCHESTRATOR_GITHUB_TIMEOUT", or "" for a default.
func (o origin) where() string {
	switch {
	case o.file != "" && o.col > 0:
		return fmt.Sprintf("%s:%d:%d", o.file, o.line, o.col)
	case o.file != "" && o.line > 0:
		return fmt.Sprintf("%s:%d", o.file, o.line)
	case o.file != "":
		return o.file
	}
	return o.env
}

// configProblem is one mistake in the configuration.
type configProblem struct {
	origin
	key string // dotted key, e.g. github.timeout; empty when none applies
	msg string
}

func (p configProblem) Error() string {
	var parts []string
	if w := p.where(); w != "" {
		parts = append(parts, w)
	}
	if p.key != "" {
		key := p.key
		if p.secret != "" {
			key += " (read from " + p.secret + ")"
		}
		parts = append(parts, key)
	}
	return strings.Join(append(parts, p.msg), ": ")
}

// configLoader collects the problems of one load and the origin of every
// value set from the file or the environment.
type configLoader struct {
	file     string
	origins  map[string]origin // by dotted key
	problems []configProblem
	// failed holds the keys whose value was refused (it did not parse, or
	// its secret file could not be read): Validate's complaint about the
	// default left in its place would only repeat the problem.
	failed map[string]bool
}

func newConfigLoader(file string) *configLoader {
	return &configLoader{file: file, origins: map[string]origin{}, failed: map[string]bool{}}
}

func (l *configLoader) at(n *yaml.Node) origin {
	return origin{file: l.file, line: n.Line, col: n.Column}
}

func (l *configLoader) add(o origin, key, format string, args ...any) {
	l.failed[key] = true
	l.problems = append(l.problems, configProblem{origin: o, key: key, msg: fmt.Sprintf(format, args...)})
}

// report records a problem with key's value, at the value's origin,
// unless the value was already refused.
func (l *configLoader) report(key, msg string) {
	if l.failed[key] {
		return
	}
	l.problems = append(l.problems, configProblem{origin: l.origins[key], key: key, msg: msg})
}

// err returns every problem, sorted: the file's in order of position, then
// the environment's by variable, then those of defaults in the order they
// were found.
func (l *configLoader) err() error {
	if len(l.problems) == 0 {
		return nil
	}
	rank := func(p configProblem) int {
		switch {
		case p.file != "":
			return 0
		case p.env != "":
			return 1
		}
		return 2
	}
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		switch {
		case a.line != b.line:
			return a.line < b.line
		case a.col != b.col:
			return a.col < b.col
		}
		return a.env < b.env
	})
	errs := make([]error, len(l.problems))
	for i, p := range l.problems {
		errs[i] = p
	}
	return fmt.Errorf("invalid configuration:\n%w", errors.Join(errs...))
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML sets cfg from the file. It returns false when the file cannot
// be read as a mapping at all.
func (l *configLoader) decodeYAML(src []byte, cfg *Config) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return true // empty file: the defaults
		}
		l.syntaxError(err)
		return false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		l.syntaxError(err)
		return false
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		l.add(l.at(next.Content[0]), "", "a second YAML document: the configuration is one document (remove the \"---\")")
	}
	if len(doc.Content) == 0 {
		return true
	}
	top := resolveAlias(doc.Content[0])
	switch {
	case isNull(top):
		return true
	case top.Kind != yaml.MappingNode:
		l.add(l.at(top), "", "the configuration must be a mapping of sections (server:, github:, ...), got %s", describeNode(top))
		return false
	}
	l.decodeStruct(top, "", reflect.ValueOf(cfg).Elem())
	return true
}

// syntaxError reports a YAML syntax error. yaml.v3 gives its line but not
// its column.
func (l *configLoader) syntaxError(err error) {
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		l.add(origin{file: l.file, line: line}, "", "YAML syntax: %s", m[2])
		return
	}
	l.add(origin{file: l.file}, "", "YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// decodeStruct sets the fields of a section (or of Config itself) from a
// mapping node.
func (l *configLoader) decodeStruct(n *yaml.Node, key string, v reflect.Value) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], resolveAlias(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			l.add(l.at(kn), key, "keys are plain names, got %s", describeNode(kn))
			continue
		}
		name := kn.Value
		path := joinKey(key, name)
		if name == "<<" {
			l.add(l.at(kn), key, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		if first, dup := seen[name]; dup {
			l.add(l.at(kn), path, "duplicate key (first set on line %d)", first.Line)
			continue
		}
		seen[name] = kn
		idx, ok := fieldIndex(v.Type(), name)
		if !ok {
			l.add(l.at(kn), path, "%s", unknownKey(v.Type(), key, name))
			continue
		}
		l.decodeValue(vn, path, v.Field(idx))
	}
}

// decodeValue sets v, the field at key, from the value node vn.
func (l *configLoader) decodeValue(vn *yaml.Node, key string, v reflect.Value) {
	if isNull(vn) {
		return // "key:" with no value keeps the default
	}
	switch {
	case v.Kind() == reflect.Struct:
		if vn.Kind != yaml.MappingNode {
			l.add(l.at(vn), key, "must be a mapping of keys (%s), got %s", strings.Join(yamlFieldNames(v.Type()), ", "), describeNode(vn))
			return
		}
		l.decodeStruct(vn, key, v)
	case v.Kind() == reflect.Map:
		if vn.Kind != yaml.MappingNode {
			l.add(l.at(vn), key, "must be a mapping of name: value, got %s", describeNode(vn))
			return
		}
		l.decodeMap(vn, key, v)
	default:
		if vn.Kind != yaml.ScalarNode {
			l.add(l.at(vn), key, "must be %s, got %s", describeType(v.Type()), describeNode(vn))
			return
		}
		if err := setFromString(v, vn.Value); err != nil {
			l.add(l.at(vn), key, "%v", err)
			return
		}
		l.origins[key] = l.at(vn)
	}
}

// decodeMap sets a name → value map (server.admin_tokens) from a mapping
// node. Names are checked by Validate, so that names from the environment
// are checked the same way.
func (l *configLoader) decodeMap(n *yaml.Node, key string, v reflect.Value) {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], resolveAlias(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			l.add(l.at(kn), key, "names are plain strings, got %s", describeNode(kn))
			continue
		}
		path := joinKey(key, kn.Value)
		if first, dup := seen[kn.Value]; dup {
			l.add(l.at(kn), path, "duplicate name (first set on line %d)", first.Line)
			continue
		}
		seen[kn.Value] = kn
		elem := reflect.New(v.Type().Elem()).Elem()
		at := l.at(vn)
		switch {
		case isNull(vn):
			at = l.at(kn) // an empty value: Validate says so, at the name
		case vn.Kind != yaml.ScalarNode:
			l.add(l.at(vn), path, "must be %s, got %s", describeType(elem.Type()), describeNode(vn))
			continue
		default:
			if err := setFromString(elem, vn.Value); err != nil {
				l.add(l.at(vn), path, "%v", err)
				continue
			}
		}
		v.SetMapIndex(reflect.ValueOf(kn.Value), elem)
		l.origins[path] = at
	}
}

// overlayEnv sets every key whose variable is in environ and reports every
// PIPELINE_ORCHESTRATOR_* variable that names no key. A variable is the
// prefix plus the key's path in upper case joined by "_"; an entry of a
// name → value map adds the name: PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_CI
// sets server.admin_tokens.ci. Values that do not parse are errors, never
// ignored. When a variable is set twice, the first wins, as with os.Getenv.
func (l *configLoader) overlayEnv(environ []string, cfg *Config) {
	vars := map[string]string{}
	var names []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || notConfigVariables[name] {
			continue
		}
		if _, dup := vars[name]; dup {
			continue
		}
		vars[name] = value
		names = append(names, name)
	}
	sort.Strings(names)
	leaves := configLeaves()
	byVar := map[string]configLeaf{}
	for _, leaf := range leaves {
		byVar[leaf.envVar()] = leaf
	}
	root := reflect.ValueOf(cfg).Elem()
	for _, name := range names {
		o := origin{env: name}
		if leaf, ok := byVar[name]; ok && !leaf.isMap() {
			if err := setFromString(root.FieldByIndex(leaf.index), vars[name]); err != nil {
				l.add(o, leaf.key, "%v", err)
				continue
			}
			delete(l.failed, leaf.key) // the file's value, if refused, is overridden
			l.origins[leaf.key] = o
			continue
		}
		if leaf, entry, ok := mapEntryVar(leaves, name); ok {
			m := root.FieldByIndex(leaf.index)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			elem := reflect.New(m.Type().Elem()).Elem()
			path := joinKey(leaf.key, entry)
			if err := setFromString(elem, vars[name]); err != nil {
				l.add(o, path, "%v", err)
				continue
			}
			m.SetMapIndex(reflect.ValueOf(entry), elem)
			l.origins[path] = o
			continue
		}
		l.add(o, "", "%s", unknownVariable(leaves, name))
	}
}

// mapEntryVar finds the map a variable sets an entry of, and the entry's
// name (the rest of the variable, in lower case).
func mapEntryVar(leaves []configLeaf, name string) (configLeaf, string, bool) {
	for _, leaf := range leaves {
		if !leaf.isMap() {
			continue
		}
		if rest, ok := strings.CutPrefix(name, leaf.envVar()+"_"); ok && rest != "" {
			return leaf, strings.ToLower(rest), true
		}
	}
	return configLeaf{}, "", false
}

func unknownVariable(leaves []configLeaf, name string) string {
	for _, leaf := range leaves {
		if leaf.isMap() && name == leaf.envVar() {
			return fmt.Sprintf("%s is a mapping: set one variable per entry, %s_<NAME>", leaf.key, name)
		}
	}
	var candidates []string
	for _, leaf := range leaves {
		v := leaf.envVar()
		if leaf.isMap() {
			v += "_<NAME>"
		}
		candidates = append(candidates, v)
	}
	if s, ok := closest(name, candidates, len(name)-len(EnvPrefix)); ok {
		return fmt.Sprintf("unknown variable (did you mean %s?)", s)
	}
	return "unknown variable: no configuration key has this name (see config.example.yml)"
}

// readSecretFiles loads each *_file key into its secret; setting both the
// value and the file is an error, so it is never unclear which one wins.
// Problems with a secret read from a file are reported at the *_file key.
func (l *configLoader) readSecretFiles(cfg *Config) {
	load := func(key string, dst *Secret, path string) {
		fileKey := key + "_file"
		if strings.Contains(key, "admin_tokens.") {
			fileKey = strings.Replace(key, "admin_tokens.", "admin_token_files.", 1)
		}
		if path == "" {
			return
		}
		if *dst != "" {
			l.report(fileKey, fmt.Sprintf("both this and %s are set; keep one", key))
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			l.report(fileKey, err.Error())
			l.failed[key] = true
			return
		}
		*dst = Secret(strings.TrimRight(string(b), "\r\n"))
		o := l.origins[fileKey]
		o.secret = path
		l.origins[key] = o
	}
	load("github.private_key", &cfg.GitHub.PrivateKey, cfg.GitHub.PrivateKeyFile)
	load("harness.api_key", &cfg.Harness.APIKey, cfg.Harness.APIKeyFile)
	load("server.admin_token", &cfg.Server.AdminToken, cfg.Server.AdminTokenFile)
	names := make([]string, 0, len(cfg.Server.AdminTokenFiles))
	for name := range cfg.Server.AdminTokenFiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if cfg.Server.AdminTokens == nil {
			cfg.Server.AdminTokens = map[string]Secret{}
		}
		tok := cfg.Server.AdminTokens[name]
		load("server.admin_tokens."+name, &tok, cfg.Server.AdminTokenFiles[name])
		if tok != "" {
			cfg.Server.AdminTokens[name] = tok
		}
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

// setFromString parses raw into fv, the same way for the file and the
// environment. Its errors quote raw, so it must never see a secret it can
// fail on (secrets are strings, which always parse).
func setFromString(fv reflect.Value, raw string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			if _, nerr := strconv.ParseFloat(raw, 64); nerr == nil {
				return fmt.Errorf("%q is not a duration: add a unit (e.g. %ss, %sm)", raw, raw, raw)
			}
			return fmt.Errorf("%q is not a duration (e.g. 30s, 10m)", raw)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of range", raw)
		}
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("%q is not a number", raw)
		}
		fv.SetFloat(x)
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// configLeaf is a key of Config that holds a value (not a section).
type configLeaf struct {
	key   string // dotted
	index []int  // field index path from Config
	typ   reflect.Type
}

func (f configLeaf) isMap() bool { return f.typ.Kind() == reflect.Map }

func (f configLeaf) envVar() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.key, ".", "_"))
}

// configLeaves lists every leaf key of Config, in declaration order.
func configLeaves() []configLeaf {
	var leaves []configLeaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			name := yamlName(t.Field(i))
			if name == "" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			ft := t.Field(i).Type
			if ft.Kind() == reflect.Struct {
				walk(ft, joinKey(prefix, name), idx)
				continue
			}
			leaves = append(leaves, configLeaf{key: joinKey(prefix, name), index: idx, typ: ft})
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return leaves
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func yamlFieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// unknownKey explains an unknown key in the section at prefix (of type t):
// a near spelling, the same key in another section, or the keys there are.
func unknownKey(t reflect.Type, prefix, name string) string {
	siblings := yamlFieldNames(t)
	if s, ok := closest(name, siblings, len(name)); ok {
		return fmt.Sprintf("unknown key (did you mean %s?)", s)
	}
	var elsewhere []string
	for _, leaf := range configLeaves() {
		if strings.HasSuffix("."+leaf.key, "."+name) {
			elsewhere = append(elsewhere, leaf.key)
		}
	}
	for _, section := range yamlFieldNames(reflect.TypeOf(Config{})) {
		if section == name {
			elsewhere = append(elsewhere, section)
		}
	}
	if len(elsewhere) > 0 {
		return fmt.Sprintf("unknown key here (did you mean %s?)", strings.Join(elsewhere, " or "))
	}
	if prefix == "" {
		return fmt.Sprintf("unknown section (the sections are %s)", strings.Join(siblings, ", "))
	}
	return fmt.Sprintf("unknown key (%s has %s)", prefix, strings.Join(siblings, ", "))
}

// closest returns the candidate nearest to s, if it is near enough to be
// a likely misspelling: within a third of the relevant length, at most 3
// edits.
func closest(s string, candidates []string, relevant int) (string, bool) {
	limit := min(max(relevant/3, 1), 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters cost 1 each.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describeNode names what the user wrote, for "got ..." in messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

// describeType names what a key takes, in the user's terms.
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (e.g. 30s, 10m)"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Map:
		return "a mapping of name: value"
	}
	return "a string"
}
