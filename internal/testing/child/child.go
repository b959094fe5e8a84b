// Package child holds what the test harness's child processes
// (moto_server, etcd, kube-apiserver) share: free loopback ports, a life
// tied to the test binary's, and the tail of a log for a failure message.
package child

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
)

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago. Another process may take one before the child binds it; callers
// retry with new ports when a child says its address is in use.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LogTail returns about the last 4 KiB of the file at path, from a line
// start.
func LogTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	const max = 4096
	if len(data) > max {
		data = data[len(data)-max:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return strings.TrimRight(string(data), "\n")
}
