package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Action is what a change does to a resource.
type Action int

// Actions, in the order a plan lists them.
const (
	NoOp Action = iota
	Create
	Update
	Delete
)

var actionNames = [...]string{NoOp: "no-op", Create: "create", Update: "update", Delete: "delete"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Symbol is the one-character mark a human plan shows.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	}
	return " "
}

// MarshalText makes actions readable in JSON.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Change is one planned change to one resource.
type Change struct {
	Address Address `json:"address"`
	Action  Action  `json:"action"`
	// ID is the cloud id of the existing resource, for updates and deletes.
	ID string `json:"id,omitempty"`
	// Reason says why, for display only; apply never reads it.
	Reason string `json:"reason,omitempty"`
	// Fields lists the differences an update applies.
	Fields []FieldDiff `json:"fields,omitempty"`
	// DependsOn are the addresses whose changes must finish first.
	DependsOn []Address `json:"dependsOn,omitempty"`

	desired Resource
	actual  Resource
}

// Desired is the resource as the model wants it (nil for a delete).
func (c *Change) Desired() Resource { return c.desired }

// Actual is the resource as the cloud has it (nil for a create).
func (c *Change) Actual() Resource { return c.actual }

// Plan is every change needed to bring the cloud to the spec, in an order
// that respects dependencies. It is data: it prints, marshals to JSON and
// can be saved and applied later.
type Plan struct {
	// Cluster names the cluster.
	Cluster string `json:"cluster"`
	// SpecRevision is the revision of the spec the plan was made from.
	SpecRevision int `json:"specRevision"`
	// Changes hold every resource of the cluster, in dependency order,
	// including those with nothing to do (NoOp), so that apply knows all
	// of them.
	Changes []*Change `json:"changes"`
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// Count returns how many changes of each action the plan holds.
func (p *Plan) Count() map[Action]int {
	n := map[Action]int{}
	for _, c := range p.Changes {
		n[c.Action]++
	}
	return n
}

// Summary is a one-line count, e.g. "3 to create, 1 to update, 0 to delete".
func (p *Plan) Summary() string {
	n := p.Count()
	return fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged", n[Create], n[Update], n[Delete], n[NoOp])
}

// Fingerprint identifies what the plan would do: two plans with the same
// fingerprint make the same changes. A saved plan is applied only if a
// fresh plan still has its fingerprint.
func (p *Plan) Fingerprint() string {
	type entry struct {
		Address Address     `json:"a"`
		Action  Action      `json:"x"`
		ID      string      `json:"i,omitempty"`
		Fields  []FieldDiff `json:"f,omitempty"`
	}
	var entries []entry
	for _, c := range p.Changes {
		if c.Action != NoOp {
			entries = append(entries, entry{c.Address, c.Action, c.ID, c.Fields})
		}
	}
	data, _ := json.Marshal(struct {
		Cluster string  `json:"c"`
		Rev     int     `json:"r"`
		E       []entry `json:"e"`
	}{p.Cluster, p.SpecRevision, entries})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// SavedPlan is the file `update cluster --out-plan` writes.
type SavedPlan struct {
	Format      string `json:"format"`
	Fingerprint string `json:"fingerprint"`
	Plan        *Plan  `json:"plan"`
}

// SavedPlanFormat marks files written by this version of kapstan.
const SavedPlanFormat = "kapstan.io/plan/v1"

// Save encodes the plan for a file.
func (p *Plan) Save() ([]byte, error) {
	return json.MarshalIndent(SavedPlan{Format: SavedPlanFormat, Fingerprint: p.Fingerprint(), Plan: p}, "", "  ")
}

// LoadSavedPlan decodes a saved plan.
func LoadSavedPlan(data []byte) (*SavedPlan, error) {
	var sp SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("not a kapstan plan: %w", err)
	}
	if sp.Format != SavedPlanFormat || sp.Plan == nil {
		return nil, fmt.Errorf("not a kapstan plan (format %q, want %q)", sp.Format, SavedPlanFormat)
	}
	return &sp, nil
}

// String renders the plan for people, like `terraform plan`.
func (p *Plan) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		if c.Action == NoOp {
			continue
		}
		fmt.Fprintf(&b, "  %s %s", c.Action.Symbol(), c.Address)
		if c.ID != "" {
			fmt.Fprintf(&b, " (%s)", c.ID)
		}
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		b.WriteString("\n")
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "      %s\n", f)
		}
	}
	return b.String()
}
