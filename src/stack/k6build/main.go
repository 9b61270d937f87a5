// Command k6 is the k6 binary fleetload runs: upstream k6 plus the k6/x/tcp module.
package main

import (
	k6cmd "go.k6.io/k6/v2/cmd"

	_ "fleetload.local/k6build/tcp" // k6/x/tcp
)

func main() {
	k6cmd.Execute()
}
