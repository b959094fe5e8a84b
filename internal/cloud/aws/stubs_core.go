package aws

// Placeholders until the core resources are implemented; delete this file then.

import (
	"context"
	"errors"

	"github.com/kapstan/kapstan/internal/engine"
)

var _ = errors.New
var _ context.Context
var _ engine.Address

type preflightEC2API interface{}
type ssmAPI interface{}
