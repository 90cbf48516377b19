// Questions the learner answers in the page, scored: the chapters' self-checks (the book
// build turns each ```quiz block into a .st-quiz, see src/book/quiz.rs), the questions a
// replay computes from its own trace and its predict-the-next-event mode (questions.js). A
// question with choices is checked when one is picked; one without is answered by the
// learner, who then says whether they had it. Each answer adds to the page's score. Every
// text goes in as text or as the nodes the book build escaped, never as HTML.
(function () {
  'use strict';

  const el = window.stDom.el;

  /// The page's tally, shown after its last chapter question (or its first replay's questions).
  const score = { asked: 0, right: 0, box: null };

  function tally(right) {
    score.asked += 1;
    if (right) score.right += 1;
    if (!score.box) {
      score.box = el('p', { class: 'st-quiz-score', role: 'status' });
      const last = [...document.querySelectorAll('.st-quiz')].pop();
      (last ? last.parentNode : document.querySelector('main') || document.body).insertBefore(score.box, last ? last.nextSibling : null);
    }
    score.box.textContent = `Your score on this page: ${score.right} of ${score.asked} answered right.`;
  }

  let made = 0; // ids for the questions' labels

  /// Renders a question into `box` and calls `done(right, chosen)` once it is answered.
  /// `q`: { question: Node|string, choices: [{ text: Node|string, right: bool }] (empty for
  /// an open question), why: Node|string (the explanation), answer: string (an open
  /// question's answer, said before the explanation), counted: whether it adds to the score }.
  function ask(box, q, done) {
    made += 1;
    const id = 'st-q-' + made;
    const text = (value) => (typeof value === 'string' ? document.createTextNode(value) : value);
    const question = el('p', { class: 'st-quiz-question', id: id });
    question.append(text(q.question));
    const group = el('div', { class: 'st-quiz-choices', role: 'group', 'aria-labelledby': id });
    const verdict = el('div', { class: 'st-quiz-verdict', role: 'status' });
    const why = el('div', { class: 'st-quiz-why', hidden: '' });
    why.append(text(q.why));
    box.replaceChildren(question, group, verdict, why);
    const finish = (right, chosen) => {
      for (const button of group.querySelectorAll('button')) button.disabled = true;
      why.hidden = false;
      box.classList.add(right ? 'st-quiz-right' : 'st-quiz-wrong');
      if (q.counted !== false) tally(right);
      if (done) done(right, chosen);
    };
    if (q.choices.length) {
      q.choices.forEach((choice, k) => {
        const button = el('button', { type: 'button', class: 'st-quiz-choice', 'data-right': choice.right ? '1' : '0' });
        button.append(text(choice.text));
        button.addEventListener('click', () => {
          button.classList.add('st-chosen');
          const right = q.choices.filter((c) => c.right);
          verdict.textContent = choice.right ? 'Right.' : `Not quite: the answer is “${right.map((c) => (typeof c.text === 'string' ? c.text : c.text.textContent)).join('” or “')}”.`;
          for (const b of group.querySelectorAll('button')) if (b.getAttribute('data-right') === '1') b.classList.add('st-answer');
          finish(choice.right, k);
        });
        group.append(button);
      });
    } else {
      // An open question: the learner answers in their head, reads ours, and says how it went.
      const show = el('button', { type: 'button', class: 'st-quiz-show' }, 'Show the answer');
      show.addEventListener('click', () => {
        show.remove();
        why.hidden = false;
        verdict.textContent = 'Did you have it?';
        for (const [label, right] of [['I had it', true], ['I missed it', false]]) {
          const button = el('button', { type: 'button', class: 'st-quiz-self', 'data-right': right ? '1' : '0' }, label);
          button.addEventListener('click', () => {
            verdict.textContent = right ? 'Counted as right.' : 'Counted as missed: worth reading again.';
            finish(right, label);
          });
          group.append(button);
        }
      });
      group.append(show);
    }
  }

  /// The replay a question is tied to: the last replay of its trace before it on the page
  /// (the first after it, where none comes before).
  function replayOf(block) {
    const fixture = block.getAttribute('data-fixture');
    if (!fixture) return null;
    const replays = [...document.querySelectorAll('.st-replay')].filter((r) => r.getAttribute('data-fixture') === fixture);
    const before = replays.filter((r) => r.compareDocumentPosition(block) & Node.DOCUMENT_POSITION_FOLLOWING);
    return before.pop() || replays[0] || null;
  }

  /// A chapter's question as the book build wrote it (readable without JavaScript, its answer
  /// folded away), made interactive; tied to a replay step, it can show that step.
  function upgrade(block) {
    const question = block.querySelector('.st-quiz-q');
    const contents = (node) => {
      const span = el('span', {});
      span.append(...[...node.childNodes].map((n) => n.cloneNode(true)));
      return span;
    };
    const choices = [...block.querySelectorAll('.st-quiz-options > li')].map((li) => ({ text: contents(li), right: li.hasAttribute('data-right') }));
    const why = el('div', {});
    for (const part of block.querySelectorAll('.st-quiz-explanation > *')) why.append(part.cloneNode(true));
    const replay = replayOf(block);
    const at = Number(block.getAttribute('data-step'));
    const body = el('div', { class: 'st-quiz-body' });
    block.replaceChildren(body);
    ask(body, { question: contents(question), choices: choices, why: why });
    if (replay) {
      const go = el('button', { type: 'button', class: 'st-quiz-go' }, `Show step ${at + 1} in the replay`);
      go.addEventListener('click', () => {
        replay.dispatchEvent(new CustomEvent('st-go', { detail: { step: at } }));
        replay.scrollIntoView({ block: 'start' });
      });
      block.append(go);
    }
    block.setAttribute('data-ready', '1');
  }

  window.stQuiz = { ask, upgrade };
  // After the replays have mounted: replay.js mounts them as it loads, after this file.
  const upgradeAll = () => document.querySelectorAll('.st-quiz').forEach(upgrade);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', upgradeAll);
  else upgradeAll();
})();
