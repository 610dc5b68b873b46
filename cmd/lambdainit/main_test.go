package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, n := range v {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	twenty := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p90", ms(7), 90, 7 * time.Millisecond},
		{"median of 20", twenty, 50, 10 * time.Millisecond},
		{"p90 of 20", twenty, 90, 18 * time.Millisecond},
		{"p100 of 20", twenty, 100, 20 * time.Millisecond},
		{"p0 of 20", twenty, 0, 1 * time.Millisecond},
		{"median of 3", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"p90 of 3", ms(1, 2, 3), 90, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p%d) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestMedianUnsorted(t *testing.T) {
	d := []time.Duration{88, 27, 50, 31, 90}
	if got := median(d); got != 50 {
		t.Fatalf("median = %v, want 50", got)
	}
	if d[0] != 88 || d[1] != 27 {
		t.Fatalf("median reordered its input: %v", d)
	}
}

func TestZipBootstrap(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	content := []byte("#!/bin/sh\necho hello\n")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(dir, "fn.zip")
	binSize, zipSize, err := zipBootstrap(bin, zpath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(zpath)
	if err != nil {
		t.Fatal(err)
	}
	if binSize != int64(len(content)) || zipSize != st.Size() {
		t.Errorf("sizes %d, %d; want %d, %d", binSize, zipSize, len(content), st.Size())
	}
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip holds %v, want one executable bootstrap", zr.File)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if string(got) != string(content) {
		t.Errorf("bootstrap content %q", got)
	}
}
