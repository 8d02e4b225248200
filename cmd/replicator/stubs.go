package main

import (
	"context"
	"errors"
	"io"
)

func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("worker: not implemented yet (see the scheduler and worker fleet issue)")
}

func runProduce(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("produce: not implemented yet")
}

func runConsume(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("consume: not implemented yet")
}
