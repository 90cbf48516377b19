// Questions a replay asks from its own trace's numbers (see replay.js), each checked against
// the trace and explained with it, and its predict-the-next-event mode: the next step stays
// hidden until the learner has picked what it is among a few of the steps around it. Each
// question is about one step, which the replay can show. Rendering and scoring: quiz.js.
(function () {
  'use strict';

  const WRAP = 4294967296; // sequence numbers are modulo 2^32 (RFC 9293 §3.4)

  const field = window.stDom.field;

  function flags(step) {
    return step.lens === 'packet' ? (field(step, 'flags') || '') : '';
  }

  /// A call step's call and whether it starts (`accept(s1) …`), ends (`… accept = s2`) or is
  /// whole (`listen(s1) = 0`), from its ladder label.
  function callOf(step) {
    if (step.lens !== 'call') return null;
    const ends = step.label.startsWith('… ');
    const name = (ends ? step.label.slice(2) : step.label).split(/[( ]/)[0];
    return { name, starts: step.label.endsWith(' …'), ends };
  }

  /// Shuffles `right` in among `wrong` at a place fixed by `seed`, so that a page asks the same
  /// way on every visit (and a test can read it) without the right answer always first.
  function arrange(right, wrong, seed) {
    const choices = wrong.map((text) => ({ text, right: false }));
    choices.splice(seed % (choices.length + 1), 0, { text: right, right: true });
    return choices;
  }

  function distinct(values, not) {
    return [...new Set(values)].filter((v) => v !== not);
  }

  /// "What ack does this SYN|ACK carry, and why?": the client's ISN plus one.
  function synAckQuestion(steps) {
    const k = steps.findIndex((s) => flags(s) === 'SYN|ACK');
    if (k < 0) return null;
    const synAck = steps[k];
    const syn = steps.slice(0, k).reverse().find((s) => flags(s) === 'SYN' && s.from === synAck.to && !s.dropped);
    if (!syn) return null;
    const isn = Number(field(syn, 'seq (raw)'));
    const own = Number(field(synAck, 'seq (raw)'));
    const ack = (isn + 1) % WRAP;
    return {
      step: k,
      question: `${syn.from} opened with a SYN of seq ${isn}, its ISN. What ack does the SYN|ACK of ${synAck.from} (step ${k + 1}) carry?`,
      choices: arrange(String(ack), distinct([String(isn), String((own + 1) % WRAP), String((isn + 2) % WRAP)], String(ack)), k),
      why: `It carries ack ${ack} = ${isn} + 1: the SYN took up one sequence number, so the next one ${synAck.from} expects is the ISN plus one (relative ack 1). ` +
        `Its own seq, ${own}, is the server's ISN, chosen on its side; the client will acknowledge it with ${(own + 1) % WRAP}.`,
    };
  }

  /// "Which call was the server blocked in when this ACK arrived?": the server's calls begun
  /// and not yet returned at the handshake's last ACK.
  function blockedQuestion(steps) {
    const k = steps.findIndex((s, i) => flags(s) === 'ACK' && s.side === 'client' && steps.slice(0, i).some((p) => flags(p) === 'SYN|ACK'));
    if (k < 0) return null;
    const open = [];
    const seen = [];
    for (const step of steps.slice(0, k)) {
      const call = callOf(step);
      if (!call || step.side !== 'server') continue;
      const named = `${call.name}(${step.socket || ''})`;
      if (!['socket', 'setsockopt'].includes(call.name)) seen.push(named);
      if (call.starts) open.push(named);
      if (call.ends) {
        const at = open.findIndex((c) => c.startsWith(call.name + '('));
        if (at >= 0) open.splice(at, 1);
      }
    }
    const none = 'none: it was not inside a call';
    const right = open.length ? open[open.length - 1] : none;
    const wrong = distinct(seen.reverse().concat([none]), right).slice(0, 3);
    if (!wrong.length) return null;
    return {
      step: k,
      question: `When the client’s ACK of step ${k + 1} arrived, which call was the server blocked in?`,
      choices: arrange(right, wrong, k),
      why: right === none
        ? 'The server had no call in progress: the kernel completes the handshake by itself, whatever the program is doing.'
        : `${right} had begun and not yet returned. The kernel answers the handshake by itself; the ACK completes the connection, and only then can ${right.split('(')[0]} return.`,
    };
  }

  /// "What ack does the answer to this data carry?": the data's relative seq plus its length,
  /// the next byte the receiver expects.
  function dataAckQuestion(steps) {
    const k = steps.findIndex((s) => s.lens === 'packet' && Number(field(s, 'payload length') || 0) > 0 && field(s, 'seq (relative)') !== undefined && !s.dropped);
    if (k < 0) return null;
    const data = steps[k];
    const ack = steps.slice(k + 1).find((s) => s.lens === 'packet' && s.from === data.to && s.to === data.from && flags(s).split('|').includes('ACK'));
    if (!ack || field(ack, 'ack (relative)') === undefined) return null;
    const seq = Number(field(data, 'seq (relative)'));
    const len = Number(field(data, 'payload length'));
    const right = String(seq + len);
    if (field(ack, 'ack (relative)') !== right) return null; // a segment lost or merged: no plain answer
    return {
      step: k,
      question: `${data.from} sends ${len} bytes at relative seq ${seq} (step ${k + 1}). What ack does ${data.to}’s next segment carry?`,
      choices: arrange(right, distinct([String(seq + len + 1), String(len), String(seq + len - 1)], right), k),
      why: `ack ${right} = ${seq} + ${len}: an acknowledgment names the next byte expected, so it is the data’s first number plus its length (step ${steps.indexOf(ack) + 1} carries it).`,
    };
  }

  /// "Who closes first, and which socket passes through TIME-WAIT?": the first FIN's sender,
  /// which is the one left waiting.
  function closeQuestion(steps) {
    const k = steps.findIndex((s) => flags(s).split('|').includes('FIN'));
    const t = steps.findIndex((s) => s.moved && s.moved.to === 'TIME-WAIT');
    if (k < 0 || t < 0) return null;
    const fin = steps[k];
    const waiting = steps[t].moved.socket;
    const peer = fin.to || '?';
    const closer = `the ${fin.side} (${fin.from})`;
    const other = `the ${fin.side === 'client' ? 'server' : 'client'} (${peer})`;
    const right = `${closer} closes first; ${waiting} passes through TIME-WAIT`;
    const otherWaits = waiting === fin.from ? peer : fin.from;
    const wrong = [`${closer} closes first; ${otherWaits} passes through TIME-WAIT`, `${other} closes first; ${otherWaits} passes through TIME-WAIT`, `${other} closes first; ${waiting} passes through TIME-WAIT`];
    const view = steps[t].sockets.find((v) => v.id === waiting);
    const linux = view && view.mark && view.mark.startsWith('reported ') ? ` Linux reports it ${view.mark.slice(9)} at that moment and keeps a timewait entry in its place (ss lists it as TIME-WAIT).` : '';
    return {
      step: t,
      question: 'Who closes first, and which socket passes through TIME-WAIT?',
      choices: arrange(right, wrong, k),
      why: `${fin.from} sends the first FIN (step ${k + 1}), so its side closes first, and the side that closes first is the one that waits in TIME-WAIT (step ${t + 1}), for twice the maximum segment lifetime: a late segment of this connection then cannot be taken for one of the next.${linux}`,
    };
  }

  /// The questions this trace can answer, in the order its steps do.
  function of(steps) {
    return [synAckQuestion(steps), blockedQuestion(steps), dataAckQuestion(steps), closeQuestion(steps)].filter(Boolean).sort((a, b) => a.step - b.step);
  }

  /// A step in a few words, as the predict mode offers it: who did what.
  function brief(step) {
    if (step.lens === 'packet') return `${step.from || step.side} → ${step.to || '?'} ${step.label}${step.dropped ? ' (lost)' : ''}`;
    if (step.lens === 'call') return `${step.side}: ${step.label}`;
    return step.label;
  }

  /// The predict mode's question about visible step `next` (after `now`): it and up to three
  /// other visible steps near it, said differently: those still to come first (which of them
  /// is next?), then, near the end of a trace, those already seen.
  function predict(replay, now, next) {
    const right = brief(replay.steps[next]);
    const near = [];
    for (let d = 1; near.length < 12 && (next + d < replay.steps.length || next - d >= 0); d++) {
      for (const i of [next + d, next - d]) if (i > now && i < replay.steps.length && i !== next && replay.visible(i)) near.push(brief(replay.steps[i]));
    }
    for (let i = now; near.length < 12 && i >= 0; i--) if (replay.visible(i)) near.push(brief(replay.steps[i]));
    const wrong = distinct(near, right).slice(0, 3);
    const step = replay.steps[next];
    const lit = step.progress.flatMap((p, k) => p.at.map((id) => replay.data.sequences[k].steps.find((s) => s.id === id))).filter(Boolean);
    const why = `Step ${next + 1}: ${step.text}.` + (lit.length ? ' ' + lit.map((s) => `${s.title}: ${s.note}`).join(' ') : '');
    return { question: `What happens next, after step ${now + 1}?`, choices: arrange(right, wrong, next), why };
  }

  window.stQuestions = { of, predict };
})();
