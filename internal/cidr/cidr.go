// Package cidr carves subnets out of a network range. It is pure: no IO,
// no randomness, so the same request always gives the same answer.
package cidr

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
)

// Request asks for one subnet of a prefix length.
type Request struct {
	// Bits is the prefix length wanted, e.g. 19 for a /19.
	Bits int
}

// Allocate returns one prefix per request, inside network, not overlapping
// each other or any of used. Larger subnets are placed first so that
// alignment wastes no space; within a size, requests keep their order, and
// each takes the lowest free block. The result is in request order.
func Allocate(network netip.Prefix, used []netip.Prefix, reqs []Request) ([]netip.Prefix, error) {
	if !network.IsValid() || !network.Addr().Is4() {
		return nil, fmt.Errorf("allocating subnets: %s is not an IPv4 network", network)
	}
	network = network.Masked()
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return reqs[a].Bits - reqs[b].Bits })

	taken := slices.Clone(used)
	out := make([]netip.Prefix, len(reqs))
	for _, i := range order {
		b := reqs[i].Bits
		if b < network.Bits() || b > 32 {
			return nil, fmt.Errorf("allocating a /%d in %s: size must be between /%d and /32", b, network, network.Bits())
		}
		p, ok := lowestFree(network, b, taken)
		if !ok {
			return nil, fmt.Errorf("allocating a /%d in %s: no free block left", b, network)
		}
		out[i] = p
		taken = append(taken, p)
	}
	return out, nil
}

// lowestFree returns the lowest aligned /b block of network that overlaps
// nothing taken. It jumps past each taken range it meets, so it takes at
// most len(taken)+1 steps however small the blocks are.
func lowestFree(network netip.Prefix, b int, taken []netip.Prefix) (netip.Prefix, bool) {
	step := uint64(1) << (32 - b)
	end := uint64(ipv4ToUint(network.Addr())) + (uint64(1) << (32 - network.Bits()))
	for a := uint64(ipv4ToUint(network.Addr())); a+step <= end; {
		p := netip.PrefixFrom(uintToIPv4(uint32(a)), b)
		i := slices.IndexFunc(taken, p.Overlaps)
		if i < 0 {
			return p, true
		}
		t := taken[i].Masked()
		past := uint64(ipv4ToUint(t.Addr())) + (uint64(1) << (32 - t.Bits()))
		a = max(a+step, (past+step-1)/step*step)
	}
	return netip.Prefix{}, false
}

// SplitBits is how many bits a network must be split by to hold n equal
// blocks plus one spare block: the spare is where small utility subnets go.
func SplitBits(n int) int {
	if n < 1 {
		n = 1
	}
	return bits.Len(uint(n))
}

func ipv4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIPv4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
