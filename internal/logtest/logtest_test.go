package logtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestLines(t *testing.T) {
	var l Lines
	// A record split across writes, a non-JSON line, and concurrent writers.
	fmt.Fprint(&l, `{"msg":"grpc listening","addr":"127.0.0.1:1"}`+"\n"+`{"msg":"policy lo`)
	fmt.Fprint(&l, `aded","generation":1}`+"\nnot json\n")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&l, `{"msg":"policy loaded","generation":%d}`+"\n", i+2)
		}()
	}
	wg.Wait()
	if rec, ok := l.Find("grpc listening"); !ok || rec["addr"] != "127.0.0.1:1" {
		t.Errorf("Find = %v, %v", rec, ok)
	}
	if n := l.Count("policy loaded"); n != 5 {
		t.Errorf("Count = %d, want 5", n)
	}
	if i := l.Index("policy loaded"); i != 1 {
		t.Errorf("Index = %d, want 1", i)
	}
	if _, ok := l.Find("absent"); ok || l.Index("absent") != -1 {
		t.Error("found an absent message")
	}
	if !strings.Contains(l.String(), "not json") {
		t.Error("raw text lost")
	}
	fmt.Fprint(&l, strings.Repeat("x", 2*maxString))
	if s := l.String(); len(s) > maxString+len("…") || !strings.HasPrefix(s, "…") {
		t.Errorf("String not bounded: %d bytes", len(s))
	}
	// Contains searches all of it, not only what String shows.
	if strings.Contains(l.String(), "grpc listening") || !l.Contains("grpc listening") || l.Contains("absent") {
		t.Error("Contains does not search the whole text")
	}
}

// TestResetAndWaitLine: Reset forgets text and records; WaitLine returns
// once a line is complete, including one completed by a later write.
func TestResetAndWaitLine(t *testing.T) {
	var l Lines
	fmt.Fprint(&l, `{"msg":"a"}`+"\n")
	l.Reset()
	if l.String() != "" || l.Count("a") != 0 {
		t.Fatalf("after Reset: %q, %d records", l.String(), l.Count("a"))
	}
	fmt.Fprint(&l, "GET /x 200")
	done := make(chan struct{})
	go func() {
		defer close(done)
		fmt.Fprint(&l, " -\n")
	}()
	if got := l.WaitLine(t); got != "GET /x 200 -\n" {
		t.Errorf("WaitLine = %q", got)
	}
	<-done
}
