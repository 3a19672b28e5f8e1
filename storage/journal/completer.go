package journal

// The completer runs the done callbacks of synced requests on its own
// goroutine. A callback is where a confirmation leaves the broker (a STOMP
// RECEIPT, an MQTT PUBACK): a socket write each. Run on the writer, those
// writes would hold back the next group's write and sync; here they overlap
// it, and the producers they release join the next group.

type completion struct {
	done func(error)
	err  error
}

// completeSynced hands the done callbacks of reqs' sync requests to the
// completer. Writer goroutine only.
func (j *Journal) completeSynced(reqs []request, err error) {
	j.cmu.Lock()
	first := len(j.cq) == 0
	for i := range reqs {
		if r := &reqs[i]; r.sync {
			if err != nil {
				j.errors.Add(1)
			}
			j.cq = append(j.cq, completion{done: r.done, err: err})
		}
	}
	j.cmu.Unlock()
	if first {
		select {
		case j.cwake <- struct{}{}:
		default:
		}
	}
}

// completerLoop runs callbacks until the writer has stopped and nothing is
// left; the writer closes cstop after its last hand-over.
func (j *Journal) completerLoop() {
	defer j.writerWG.Done()
	var spare []completion
	for {
		select {
		case <-j.cwake:
		case <-j.cstop:
			j.runCompletions(&spare)
			return
		}
		j.runCompletions(&spare)
	}
}

func (j *Journal) runCompletions(spare *[]completion) {
	for {
		j.cmu.Lock()
		list := j.cq
		j.cq = (*spare)[:0]
		j.cmu.Unlock()
		if len(list) == 0 {
			*spare = list
			return
		}
		for _, c := range list {
			c.done(c.err)
		}
		clear(list)
		*spare = list
	}
}
