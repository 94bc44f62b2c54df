package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progressBar draws one self-overwriting line on a terminal and stays silent
// anywhere else (pipes, files, CI logs).
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, quiet bool) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, on: !quiet && ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (b *progressBar) update(done, total int) {
	if !b.on || total == 0 {
		return
	}
	now := time.Now()
	if done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	frac := float64(done) / float64(total)
	fill := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %5.1f%%  %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		100*frac, now.Sub(b.start).Round(100*time.Millisecond))
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
