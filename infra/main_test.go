package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAbsOutdir covers how the app finds cdk.out when the CDK CLI runs it
// through cdk.json's `cd infra && go run .`.
func TestAbsOutdir(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cdk.json"), []byte(`{"app":"cd infra && go run ."}`), 0o644); err != nil {
		t.Fatal(err)
	}
	infra := filepath.Join(root, "infra")
	if err := os.Mkdir(infra, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name, env, want string
	}{
		{"relative to cdk.json", "cdk.out", filepath.Join(root, "cdk.out")},
		{"nested relative", "build/cdk.out", filepath.Join(root, "build", "cdk.out")},
		{"absolute kept", abs, ""},
		{"unset", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(infra)
			t.Setenv(outdirEnv, tc.env)
			got, err := absOutdir()
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == "") || got != nil && *got != tc.want {
				t.Errorf("absOutdir() = %v, want %q", got, tc.want)
			}
		})
	}
	t.Run("no cdk.json", func(t *testing.T) {
		t.Chdir(t.TempDir())
		t.Setenv(outdirEnv, "cdk.out")
		if got, err := absOutdir(); err == nil {
			t.Errorf("absOutdir() = %v, want an error", *got)
		}
	})
}
