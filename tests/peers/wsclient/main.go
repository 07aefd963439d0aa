// Command wsclient is the mesh's WebSocket test peer: a client that sends
// messages and checks their echoes byte for byte, and (-serve) the echo server
// to put behind the mesh. Both print JSON lines on standard output.
//
// Client:
//
//	wsclient -url ws://127.0.0.1:8080/echo [-proxy http://127.0.0.1:15001 [-proxy-connect]]
//	         [-host app.example] [-n 10] [-size 1024] [-big 10485760] [-text]
//	         [-vanish-after 3] [-timeout 60s]
//
// prints one line: {"ok":true,"sent":11,"echoed":11,"bytes":10496000,...}.
// With -vanish-after n it sends n messages (checking each echo), then the
// frame header and half the payload of one more message, and resets the TCP
// connection (SO_LINGER 0): a client that disappears mid-message.
//
// Server:
//
//	wsclient -serve 127.0.0.1:0
//
// prints {"listening":"127.0.0.1:PORT","port":PORT} once it accepts, then one
// line per finished connection: {"conn":1,"host":...,"messages":n,"bytes":b,"end":"..."}.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

type result struct {
	OK       bool   `json:"ok"`
	URL      string `json:"url"`
	Sent     int    `json:"sent"`
	Echoed   int    `json:"echoed"`
	Bytes    int64  `json:"bytes"`
	Vanished bool   `json:"vanished,omitempty"`
	Ms       int64  `json:"ms"`
	Error    string `json:"error,omitempty"`
}

var stdout sync.Mutex

func printJSON(v any) {
	b, _ := json.Marshal(v)
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Println(string(b))
}

func main() {
	serve := flag.String("serve", "", "run the echo server on this address (e.g. 127.0.0.1:0)")
	rawURL := flag.String("url", "", "ws:// URL to connect to")
	proxy := flag.String("proxy", "", "HTTP proxy URL (requests in absolute form, or CONNECT with -proxy-connect)")
	proxyConnect := flag.Bool("proxy-connect", false, "tunnel through the proxy with CONNECT")
	host := flag.String("host", "", "Host header to send instead of the URL's")
	n := flag.Int("n", 10, "messages of -size bytes to send")
	size := flag.Int("size", 1024, "bytes per message")
	big := flag.Int("big", 0, "bytes of one more, large message sent after the others (0: none)")
	text := flag.Bool("text", false, "send text messages (printable ASCII) instead of binary")
	vanishAfter := flag.Int("vanish-after", -1, "after this many messages, send half a message and reset the connection")
	timeout := flag.Duration("timeout", 60*time.Second, "overall time limit")
	flag.Parse()

	if *serve != "" {
		if err := runServer(*serve); err != nil {
			printJSON(map[string]any{"ok": false, "error": err.Error()})
			os.Exit(1)
		}
		return
	}
	if *rawURL == "" {
		fmt.Fprintln(os.Stderr, "wsclient: -url or -serve is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	r := runClient(ctx, clientOpts{
		url: *rawURL, proxy: *proxy, proxyConnect: *proxyConnect, host: *host,
		n: *n, size: *size, big: *big, text: *text, vanishAfter: *vanishAfter,
	})
	r.URL = *rawURL
	r.Ms = time.Since(start).Milliseconds()
	printJSON(r)
	if !r.OK {
		os.Exit(1)
	}
}

type clientOpts struct {
	url, proxy, host          string
	proxyConnect, text        bool
	n, size, big, vanishAfter int
}

// payload is message i's content: random bytes, or random printable ASCII.
func payload(size int, text bool) []byte {
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if text {
		for i := range b {
			b[i] = ' ' + b[i]%95
		}
	}
	return b
}

// dialVia connects to addr through an HTTP proxy with CONNECT.
func dialVia(ctx context.Context, d *net.Dialer, proxy *url.URL, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", proxy.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s via %s: %w", addr, proxy.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s via %s: %s", addr, proxy.Host, resp.Status)
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("proxy sent bytes after its CONNECT response")
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func runClient(ctx context.Context, o clientOpts) (r result) {
	var raw net.Conn // the TCP connection, for -vanish-after
	d := &net.Dialer{}
	tr := &http.Transport{DisableCompression: true, ForceAttemptHTTP2: false}
	var proxyURL *url.URL
	if o.proxy != "" {
		u, err := url.Parse(o.proxy)
		if err != nil {
			r.Error = fmt.Sprintf("bad -proxy: %v", err)
			return r
		}
		proxyURL = u
		if !o.proxyConnect {
			tr.Proxy = http.ProxyURL(u)
		}
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if proxyURL != nil && o.proxyConnect {
			c, err = dialVia(ctx, d, proxyURL, addr)
		} else {
			c, err = d.DialContext(ctx, network, addr)
		}
		if err == nil {
			raw = c
		}
		return c, err
	}
	conn, resp, err := websocket.Dial(ctx, o.url, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr},
		Host:       o.host,
	})
	if err != nil {
		r.Error = fmt.Sprintf("dial: %v", err)
		if resp != nil {
			r.Error += fmt.Sprintf(" (HTTP %d)", resp.StatusCode)
		}
		return r
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1)

	typ := websocket.MessageBinary
	if o.text {
		typ = websocket.MessageText
	}
	sizes := make([]int, 0, o.n+1)
	for i := 0; i < o.n; i++ {
		sizes = append(sizes, o.size)
	}
	if o.big > 0 {
		sizes = append(sizes, o.big)
	}
	for i, sz := range sizes {
		if o.vanishAfter >= 0 && i == o.vanishAfter {
			r.Vanished = true
			if err := vanish(raw, sz, o.text); err != nil {
				r.Error = fmt.Sprintf("vanish: %v", err)
				return r
			}
			r.OK = true
			return r
		}
		msg := payload(sz, o.text)
		// Written while the echo is read: the server echoes as it reads, so a
		// message larger than the sockets' buffers would otherwise deadlock.
		wrote := make(chan error, 1)
		go func() { wrote <- conn.Write(ctx, typ, msg) }()
		gotType, got, rerr := conn.Read(ctx)
		if err := <-wrote; err != nil {
			r.Error = fmt.Sprintf("message %d (%d bytes): write: %v", i+1, sz, err)
			return r
		}
		r.Sent++
		if rerr != nil {
			r.Error = fmt.Sprintf("message %d (%d bytes): read echo: %v", i+1, sz, rerr)
			return r
		}
		if gotType != typ {
			r.Error = fmt.Sprintf("message %d: echo type %v, sent %v", i+1, gotType, typ)
			return r
		}
		if !bytes.Equal(got, msg) {
			at := 0
			for at < len(got) && at < len(msg) && got[at] == msg[at] {
				at++
			}
			r.Error = fmt.Sprintf("message %d: echo of %d bytes differs from the %d sent at byte %d",
				i+1, len(got), len(msg), at)
			return r
		}
		r.Echoed++
		r.Bytes += int64(sz)
	}
	if o.vanishAfter >= 0 && o.vanishAfter >= len(sizes) {
		r.Vanished = true
		if err := vanish(raw, o.size, o.text); err != nil {
			r.Error = fmt.Sprintf("vanish: %v", err)
			return r
		}
		r.OK = true
		return r
	}
	if err := conn.Close(websocket.StatusNormalClosure, "done"); err != nil {
		r.Error = fmt.Sprintf("close: %v", err)
		return r
	}
	r.OK = true
	return r
}

// vanish writes a masked frame header announcing a whole message of size
// bytes, then half its payload, straight to the TCP connection, and resets it.
func vanish(raw net.Conn, size int, text bool) error {
	if raw == nil {
		return errors.New("no TCP connection recorded")
	}
	if size < 2 {
		size = 2
	}
	op := byte(0x2)
	if text {
		op = 0x1
	}
	hdr := []byte{0x80 | op}
	switch {
	case size <= 125:
		hdr = append(hdr, 0x80|byte(size))
	case size <= 0xffff:
		hdr = append(hdr, 0x80|126, byte(size>>8), byte(size))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(size))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr = append(hdr, mask...)
	half := payload(size/2, text)
	for i := range half {
		half[i] ^= mask[i%4]
	}
	if _, err := raw.Write(append(hdr, half...)); err != nil {
		return err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return raw.Close()
}

func runServer(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	printJSON(map[string]any{"listening": ln.Addr().String(), "port": port})
	var seq atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := seq.Add(1)
		c, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			printJSON(map[string]any{"conn": id, "host": req.Host, "path": req.URL.Path, "end": "accept: " + err.Error()})
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		var msgs, total int64
		end := "closed"
		for {
			typ, rd, err := c.Reader(req.Context())
			if err != nil {
				if s := websocket.CloseStatus(err); s != -1 {
					end = fmt.Sprintf("closed: %d", s)
				} else {
					end = "error: " + err.Error()
				}
				break
			}
			wr, err := c.Writer(req.Context(), typ)
			if err != nil {
				end = "error: " + err.Error()
				break
			}
			nb, err := io.Copy(wr, rd)
			if err == nil {
				err = wr.Close()
			}
			if err != nil {
				end = "error: " + err.Error()
				break
			}
			msgs++
			total += nb
		}
		printJSON(map[string]any{
			"conn": id, "host": req.Host, "path": req.URL.Path, "messages": msgs, "bytes": total, "end": end,
		})
	})
	return (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}
