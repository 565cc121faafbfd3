package clock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/beevik/ntp"
)

// answer is one server's part of a round.
type answer struct {
	server string
	resp   *ntp.Response // nil when it did not answer
	err    error         // why the answer is not usable
	used   bool
}

func (a answer) status() ServerStatus {
	s := ServerStatus{Server: a.server, Used: a.used}
	if a.resp != nil {
		s.Offset, s.RTT, s.Stratum = a.resp.ClockOffset, a.resp.RTT, int(a.resp.Stratum)
	}
	if a.err != nil {
		s.Error = a.err.Error()
	}
	return s
}

// judge turns a query's outcome into nil (usable) or an error a person can
// act on.
func (c *Clock) judge(r *ntp.Response, err error) error {
	if err != nil {
		return queryProblem(err, c.o.Timeout)
	}
	if r == nil {
		return errors.New("no answer")
	}
	if err := r.Validate(); err != nil {
		return answerProblem(r, err)
	}
	if r.RootDistance > c.o.MaxRootDistance {
		return fmt.Errorf("root distance %s is above %s: the server's time is too uncertain", r.RootDistance.Round(time.Millisecond), c.o.MaxRootDistance)
	}
	return nil
}

func queryProblem(err error, timeout time.Duration) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no answer within %s (is the server reachable on UDP port 123, or the given port?)", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("unreachable: nothing answers NTP at that address (connection refused)")
	case errors.As(err, &dns):
		return fmt.Errorf("cannot resolve the server name: %v", err)
	case errors.Is(err, context.Canceled):
		return errors.New("stopped before an answer came")
	}
	return fmt.Errorf("query failed: %w", err)
}

func answerProblem(r *ntp.Response, err error) error {
	switch {
	case errors.Is(err, ntp.ErrKissOfDeath):
		return fmt.Errorf("kiss-of-death %q: the server refuses to serve us for now", r.KissCode)
	case errors.Is(err, ntp.ErrInvalidStratum):
		return fmt.Errorf("stratum %d: the server is not synchronised itself", r.Stratum)
	case errors.Is(err, ntp.ErrInvalidLeapSecond):
		return errors.New("leap indicator 3: the server says its clock is not synchronised")
	case errors.Is(err, ntp.ErrServerClockFreshness):
		return fmt.Errorf("the server last set its clock at %s, too long ago to trust", r.ReferenceTime.UTC().Format(time.RFC3339))
	case errors.Is(err, ntp.ErrInvalidDispersion):
		return errors.New("the server's error bound (root delay and dispersion) is too large")
	}
	return fmt.Errorf("invalid answer: %w", err)
}

// choose picks the answer to believe among the usable ones: the median of
// the largest group of answers within maxApart of one member, provided that
// group is a strict majority of the usable answers. It marks the group's
// members used and the others outliers.
func choose(answers []answer, maxApart time.Duration) (int, error) {
	var valid []int
	for i, a := range answers {
		if a.err == nil {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 {
		var why []string
		for _, a := range answers {
			why = append(why, fmt.Sprintf("%s: %v", a.server, a.err))
		}
		return -1, fmt.Errorf("no usable NTP answer (%s)", strings.Join(why, "; "))
	}
	off := func(i int) time.Duration { return answers[i].resp.ClockOffset }
	var group []int
	for _, i := range valid {
		var g []int
		for _, j := range valid {
			if (off(j) - off(i)).Abs() <= maxApart {
				g = append(g, j)
			}
		}
		if len(g) > len(group) {
			group = g
		}
	}
	if 2*len(group) <= len(valid) {
		var says []string
		for _, i := range valid {
			says = append(says, fmt.Sprintf("%s says %s", answers[i].server, fmtOffset(off(i))))
		}
		return -1, fmt.Errorf("the NTP servers disagree by more than %s and no majority agrees (%s): nothing is believed; check the servers or add more", maxApart, strings.Join(says, ", "))
	}
	slices.SortFunc(group, func(a, b int) int { return cmp.Compare(off(a), off(b)) })
	median := group[(len(group)-1)/2]
	for _, i := range valid {
		if slices.Contains(group, i) {
			answers[i].used = true
			continue
		}
		answers[i].err = fmt.Errorf("outlier: its offset %s disagrees with the majority (%s) by more than %s; ignored", fmtOffset(off(i)), fmtOffset(off(median)), maxApart)
	}
	return median, nil
}
