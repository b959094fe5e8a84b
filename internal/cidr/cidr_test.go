package cidr

import (
	"net/netip"
	"slices"
	"testing"
)

func TestAllocate(t *testing.T) {
	cases := []struct {
		name    string
		network string
		used    []string
		bits    []int
		want    []string
		wantErr bool
	}{
		{"three zones public", "172.20.0.0/16", nil, []int{18, 18, 18},
			[]string{"172.20.0.0/18", "172.20.64.0/18", "172.20.128.0/18"}, false},
		{"private with utility: big blocks first, request order kept", "10.0.0.0/16", nil, []int{18, 21, 18, 21},
			[]string{"10.0.0.0/18", "10.0.128.0/21", "10.0.64.0/18", "10.0.136.0/21"}, false},
		{"skips used ranges", "10.0.0.0/16", []string{"10.0.0.0/17"}, []int{18, 18},
			[]string{"10.0.128.0/18", "10.0.192.0/18"}, false},
		{"full", "10.0.0.0/24", nil, []int{25, 25, 25}, nil, true},
		{"larger than the network", "10.0.0.0/24", nil, []int{16}, nil, true},
		{"unmasked network is masked", "10.0.0.7/24", nil, []int{25}, []string{"10.0.0.0/25"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var used []netip.Prefix
			for _, u := range tc.used {
				used = append(used, netip.MustParsePrefix(u))
			}
			var reqs []Request
			for _, b := range tc.bits {
				reqs = append(reqs, Request{Bits: b})
			}
			got, err := Allocate(netip.MustParsePrefix(tc.network), used, reqs)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if !slices.Equal(gotS, tc.want) {
				t.Fatalf("got %v, want %v", gotS, tc.want)
			}
		})
	}
}

func TestSplitBitsLeavesASpareBlock(t *testing.T) {
	for n := 1; n <= 20; n++ {
		if blocks := 1 << SplitBits(n); blocks < n+1 {
			t.Errorf("SplitBits(%d) = %d gives %d blocks, want at least %d", n, SplitBits(n), blocks, n+1)
		}
	}
}

// FuzzAllocate checks the allocator's promises for arbitrary requests:
// every result lies inside the network, has the requested size, and
// overlaps neither another result nor a used range.
func FuzzAllocate(f *testing.F) {
	f.Add(uint32(0x0a000000), uint8(16), uint8(19), uint8(22), uint8(3), uint32(0x0a000000), uint8(20))
	f.Add(uint32(0xac140000), uint8(20), uint8(24), uint8(28), uint8(6), uint32(0), uint8(0))
	f.Fuzz(func(t *testing.T, addr uint32, netBits, big, small, n uint8, usedAddr uint32, usedBits uint8) {
		network := netip.PrefixFrom(uintToIPv4(addr), int(netBits%33)).Masked()
		var used []netip.Prefix
		if usedBits > 0 {
			used = append(used, netip.PrefixFrom(uintToIPv4(usedAddr), int(usedBits%33)).Masked())
		}
		var reqs []Request
		for i := range int(n % 12) {
			b := int(big % 33)
			if i%2 == 1 {
				b = int(small % 33)
			}
			reqs = append(reqs, Request{Bits: b})
		}
		got, err := Allocate(network, used, reqs)
		if err != nil {
			return
		}
		for i, p := range got {
			if p.Bits() != reqs[i].Bits || !network.Contains(p.Addr()) || p.Bits() < network.Bits() {
				t.Fatalf("result %d %s does not fit request /%d in %s", i, p, reqs[i].Bits, network)
			}
			for _, u := range used {
				if p.Overlaps(u) {
					t.Fatalf("result %s overlaps used %s", p, u)
				}
			}
			for j := range i {
				if p.Overlaps(got[j]) {
					t.Fatalf("results %s and %s overlap", p, got[j])
				}
			}
		}
	})
}
