// The pod sandbox ("pause") process: holds a pod's namespaces open and does nothing else until it
// is told to stop. The cluster builds its own because no registry can be reached to pull one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
