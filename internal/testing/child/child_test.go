package child

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFreePortsDiffer(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("ports %v: want 3 distinct", ports)
	}
}

func TestLogTailStartsAtALine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 1000 {
		b.WriteString(strings.Repeat("x", i%50) + "\n")
	}
	b.WriteString("last line\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	full, tail := b.String(), LogTail(path)
	start := len(full) - 1 - len(tail) // the tail is full[start:] less the last newline
	if len(tail) > 4096 || !strings.HasSuffix(full, tail+"\n") || full[start-1] != '\n' {
		t.Fatalf("tail of %d bytes is not the log's end from a line start", len(tail))
	}
	if got := LogTail(filepath.Join(t.TempDir(), "missing")); !strings.Contains(got, "cannot read log") {
		t.Fatalf("missing log: %q", got)
	}
}
