package render

import (
	"strings"
	"testing"
)

func TestIdentifier(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name, in, want string
	}{
		{"hyphens", "payment-service", "payment_service"},
		{"pipeline", "payment-service_cd", "payment_service_cd"},
		{"upper case", "Payment-Service", "payment_service"},
		{"dots and spaces", "a.b c", "a_b_c"},
		{"leading digit", "1password", "_1password"},
		{"empty", "", "_"},
		{"non-ASCII", "café", "caf_"},
		{"reserved word", "null", "null_"},
		{"reserved word, any case", "StepGroup", "stepgroup_"},
		{"contains a reserved word", "org_svc", "org_svc"},
		{"expression", "<+input>", "__input_"},
		{"too long", long, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Identifier(tt.in)
			if tt.name == "too long" {
				// The suffix is a hash: check the shape, not the digits.
				if len(got) != MaxIdentifierLen || !strings.HasPrefix(got, strings.Repeat("a", 55)+"_") {
					t.Errorf("Identifier(%q) = %q, want 55 a's, _, 8 hex digits", tt.in, got)
				}
			} else if got != tt.want {
				t.Errorf("Identifier(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if why := checkIdentifier(got, MaxIdentifierLen); why != "" {
				t.Errorf("Identifier(%q) = %q, which %s", tt.in, got, why)
			}
		})
	}
}

func TestIdentifierKeepsLongNamesApart(t *testing.T) {
	a := Identifier(strings.Repeat("x", 60) + "-alpha")
	b := Identifier(strings.Repeat("x", 60) + "-beta")
	if a == b {
		t.Errorf("two long names share the identifier %q", a)
	}
}
