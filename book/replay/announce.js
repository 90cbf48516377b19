// What a replay says about a step in words, for those who hear the page rather than see it
// (see replay.js): the step as the timeline writes it, whether its packet was lost or sent
// again, and the documented steps it is the first evidence of. Not "step 13 of 71": what
// happened.
(function () {
  'use strict';

  /// The step in full, as a ladder row's accessible name.
  function rowName(step) {
    let words = step.text;
    if (step.dropped) words += ' — lost: dropped by ' + step.dropped + ' before the receiver got it';
    if (step.resent) words += ' — a retransmission';
    return words;
  }

  /// What the replay announces on arriving at step i: the step, and each documented step it
  /// newly shows (▶), with the sequence and the socket it is about.
  function announce(replay, i) {
    const step = replay.steps[i];
    const before = i > 0 ? replay.steps[i - 1] : null;
    const words = [rowName(step) + '.'];
    step.progress.forEach((progress, k) => {
      const sequence = replay.data.sequences[k];
      for (const id of progress.at) {
        const earlier = before && before.progress[k] && before.progress[k].at.includes(id);
        const documented = sequence.steps.find((s) => s.id === id);
        if (earlier || !documented) continue;
        const whose = progress.socket ? ` (${progress.socket})` : '';
        words.push(`${sequence.title}${whose}: ${documented.title}.`);
      }
    });
    return words.join(' ');
  }

  window.stAnnounce = { rowName, announce };
})();
