package healthcheck_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// staticSource serves one cluster described once.
type staticSource struct {
	id uuid.UUID
	c  healthcheck.Cluster
}

func (s staticSource) HealthcheckCluster(_ context.Context, id uuid.UUID) (healthcheck.Cluster, error) {
	if id != s.id {
		return healthcheck.Cluster{}, fmt.Errorf("unknown cluster %s", id)
	}
	return s.c, nil
}

// Example checks a simulated 3-node cluster in-process: agents through
// the simulator's transport, CQL through its dialer.
func Example() {
	sim, err := scyllatest.Start(scyllatest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()

	// The REST ping is one attempt: an agent client without retries.
	agent, err := agentclient.New(sim.Transport(), agentclient.Options{AuthToken: sim.AuthToken(), RetryMax: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := staticSource{id: uuid.New(), c: healthcheck.Cluster{Agent: agent}}
	for _, n := range sim.Nodes() {
		src.c.Nodes = append(src.c.Nodes, healthcheck.Node{Host: n.IP, DC: n.DC, Rack: n.Rack})
	}

	svc, err := healthcheck.New(src, healthcheck.Options{
		Timeout: 5 * time.Second, // generous: examples run on busy CI machines
		Dialer:  sim.CQLDialer().DialContext,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sim.Stop(sim.Nodes()[2]); err != nil {
		fmt.Println(err)
		return
	}
	nodes, err := svc.Status(context.Background(), src.id, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range nodes {
		fmt.Println(n.Host, n.DC, "cql:", n.CQL.Status, "rest:", n.REST.Status)
	}
	// Output:
	// 127.1.1.1 dc1 cql: UP rest: UP
	// 127.1.1.2 dc1 cql: UP rest: UP
	// 127.1.1.3 dc1 cql: ERROR rest: DOWN
}
