package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, fixed at 100
// in Linux's user-space ABI.
const userHZ = 100

// maxTicks is the most CPU time a time.Duration holds, in ticks.
const maxTicks = math.MaxInt64 / uint64(time.Second/userHZ)

// processCPU returns the user + system CPU time process pid has used so
// far, all threads included.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) is in parentheses and may
// hold spaces and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat %q", stat)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 63)
	stime, err2 := strconv.ParseUint(f[12], 10, 63)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: malformed /proc stat %q", stat)
	}
	if utime+stime > maxTicks {
		return 0, fmt.Errorf("bench: CPU time out of range in /proc stat %q", stat)
	}
	return time.Duration(utime+stime) * (time.Second / userHZ), nil
}
