package aws

import (
	"context"
	"maps"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts AWS API calls by service and operation. Add its
// Middleware to aws.Config.APIOptions. It counts each call once, however
// many times the SDK retries it.
type CallCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

// NewCallCounter returns an empty counter.
func NewCallCounter() *CallCounter { return &CallCounter{calls: map[string]int{}} }

// Middleware registers the counter on a client's middleware stack.
func (c *CallCounter) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kapstanCallCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			c.mu.Lock()
			c.calls[op]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// Calls returns a copy of the counts by "Service.Operation".
func (c *CallCounter) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// Total is the number of calls.
func (c *CallCounter) Total() int {
	n := 0
	for _, v := range c.Calls() {
		n += v
	}
	return n
}

// Mutating returns the calls that may change something, by operation.
func (c *CallCounter) Mutating() map[string]int {
	out := map[string]int{}
	for op, n := range c.Calls() {
		if !IsReadOnly(op) {
			out[op] = n
		}
	}
	return out
}

// Reset forgets every count.
func (c *CallCounter) Reset() {
	c.mu.Lock()
	c.calls = map[string]int{}
	c.mu.Unlock()
}

// IsReadOnly reports whether an operation ("EC2.DescribeVpcs") only reads.
func IsReadOnly(op string) bool {
	_, name, _ := strings.Cut(op, ".")
	for _, p := range []string{"Describe", "List", "Get"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
