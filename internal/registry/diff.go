package registry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// fieldDiff lists the paths of the leaves that differ between two values,
// as seen through their JSON form. It serves messages only ("what changed
// while you were editing"); plans use the typed diffs of the engine.
func fieldDiff(a, b any, root string) []string {
	var x, y any
	if !decodeJSON(a, &x) || !decodeJSON(b, &y) {
		return []string{root}
	}
	var out []string
	walkDiff(x, y, root, &out)
	return out
}

func decodeJSON(v any, out *any) bool {
	data, err := json.Marshal(v)
	return err == nil && json.Unmarshal(data, out) == nil
}

func walkDiff(a, b any, path string, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			walkDiff(am[k], bm[k], path+"."+k, out)
		}
		return
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		for i := range as {
			walkDiff(as[i], bs[i], fmt.Sprintf("%s[%d]", path, i), out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}
