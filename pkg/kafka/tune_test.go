// Test helpers to tune the engine's retry and timeout settings.

package kafka_test

import (
	"time"

	"github.com/openreplicator/replicator/pkg/kafka"
)

// tune sets the engine's retry interval for refused records and its
// delivery timeout (0: the default).
func tune(c *kafka.Config, rejectedRetry, deliveryTimeout time.Duration) {
	c.RejectedRetryInterval, c.DeliveryTimeout = rejectedRetry, deliveryTimeout
}
