package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/kapstan/kapstan/internal/engine"
)

// progress reports apply progress. On a terminal it keeps a status line
// of what is running, rewritten in place; elsewhere it writes one plain
// line per finished change and nothing else.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int
	done     int
	running  map[engine.Address]bool
	lastLine int
}

var _ engine.Progress = (*progress)(nil)

func newProgress(w io.Writer, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, total: total, running: map[engine.Address]bool{}}
}

func (p *progress) Started(c *engine.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[c.Address] = true
	p.status(fmt.Sprintf("%s %s", verb(c.Action), c.Address))
}

func (p *progress) Retrying(c *engine.Change, err error, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(fmt.Sprintf("  … %s %s: retrying in %s: %v", verb(c.Action), c.Address, wait.Round(time.Millisecond), err))
}

func (p *progress) Finished(c *engine.Change, err error, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, c.Address)
	p.done++
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	msg := fmt.Sprintf("%s [%d/%d] %s %s", mark, p.done, p.total, past(c.Action), c.Address)
	if c.ID != "" {
		msg += " (" + c.ID + ")"
	}
	msg += fmt.Sprintf(" in %s", took.Round(time.Millisecond))
	if err != nil {
		msg += ": " + err.Error()
	}
	p.line(msg)
	if n := len(p.running); n > 0 {
		p.status(fmt.Sprintf("%d in progress", n))
	}
}

// line writes a permanent line, clearing the status line first.
func (p *progress) line(s string) {
	if p.tty && p.lastLine > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.lastLine, "")
		p.lastLine = 0
	}
	fmt.Fprintln(p.w, s)
}

// status rewrites the status line; off a terminal it writes nothing.
func (p *progress) status(s string) {
	if !p.tty {
		return
	}
	s = fmt.Sprintf("[%d/%d] %s", p.done, p.total, s)
	fmt.Fprintf(p.w, "\r%-*s", p.lastLine, s)
	p.lastLine = len(s)
}

func verb(a engine.Action) string {
	switch a {
	case engine.Create:
		return "creating"
	case engine.Update:
		return "updating"
	case engine.Delete:
		return "deleting"
	}
	return "checking"
}

func past(a engine.Action) string {
	switch a {
	case engine.Create:
		return "created"
	case engine.Update:
		return "updated"
	case engine.Delete:
		return "deleted"
	}
	return "checked"
}
