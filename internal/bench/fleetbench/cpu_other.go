//go:build !unix

package fleetbench

import "time"

func selfCPU() time.Duration { return 0 }
