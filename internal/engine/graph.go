package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// order sorts resources so that each comes after its dependencies. Among
// resources whose dependencies are met, the input order is kept, so the
// result is deterministic. A duplicate address, a dependency on an unknown
// address or a cycle is an error: the model is wrong.
func order(resources []Resource) ([]Resource, error) {
	index := make(map[Address]int, len(resources))
	for i, r := range resources {
		if _, dup := index[r.Address()]; dup {
			return nil, fmt.Errorf("model: two resources at %s", r.Address())
		}
		index[r.Address()] = i
	}
	indegree := make([]int, len(resources))
	dependents := make([][]int, len(resources))
	for i, r := range resources {
		for _, d := range r.Dependencies() {
			j, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("model: %s depends on %s, which is not in the graph", r.Address(), d)
			}
			indegree[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	var ready []int
	for i := range resources {
		if indegree[i] == 0 {
			ready = append(ready, i)
		}
	}
	out := make([]Resource, 0, len(resources))
	for len(ready) > 0 {
		slices.Sort(ready)
		i := ready[0]
		ready = ready[1:]
		out = append(out, resources[i])
		for _, j := range dependents[i] {
			indegree[j]--
			if indegree[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(out) != len(resources) {
		var stuck []string
		for i, r := range resources {
			if indegree[i] > 0 {
				stuck = append(stuck, r.Address().String())
			}
		}
		return nil, fmt.Errorf("model: dependency cycle among %s", strings.Join(stuck, ", "))
	}
	return out, nil
}

// refMap is a Refs that apply updates as resources are created. It is safe
// for concurrent use.
type refMap struct {
	mu sync.RWMutex
	m  map[Address]Resource
}

func newRefMap() *refMap { return &refMap{m: map[Address]Resource{}} }

func (r *refMap) Actual(a Address) (Resource, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	res, ok := r.m[a]
	return res, ok
}

func (r *refMap) set(a Address, res Resource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res == nil {
		delete(r.m, a)
		return
	}
	r.m[a] = res
}
