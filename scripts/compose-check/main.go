// Command compose-check loads Compose files the way `docker compose` does (compose-go: YAML, anchors
// and merges, interpolation, the compose-spec JSON schema, then the project's consistency: services,
// networks, volumes and depends_on that exist) and prints the normalised project as JSON. Exit status
// 1 with the loader's message when the files are not a valid project. Used by
// test/unit/deploy/compose.test.ts; installed into .cache/bin by scripts/install-compose-check.sh.
//
//	ctflow-compose-check docker-compose.yml [more.yml ...]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ctflow-compose-check FILE [FILE...]")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv, cli.WithConsistency(true))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
