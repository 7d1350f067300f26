// Command pause is the pod sandbox's first process. It keeps the pod's namespaces alive by doing
// nothing until it is told to stop (SIGTERM or SIGINT, exit status 0) and, because it is PID 1 of
// the pod when the pod shares one process namespace, it reaps every orphan re-parented to it so
// that none lingers as a zombie. Standard library only, built with CGO_ENABLED=0: the image holds
// this one static binary.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "kubefactory-pause 3.10"

// reapAll collects every child that has exited; SIGCHLD coalesces, so one signal may stand for many.
func reapAll() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version":
			fmt.Println(version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
			os.Exit(2)
		}
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: not PID 1; orphans of this pod are reaped by another init")
	}
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reapAll()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
		os.Exit(0)
	}
}
