// What mdBook's own page needs for every reader, set as it loads (the theme is mdBook's, kept
// as it ships rather than copied here): its sidebar toggle is a <label> that mdBook gives
// aria-expanded and aria-label, which a label may not carry, so it is named a button; a code
// block or table too wide for the page scrolls, so it joins the tab order, as a scrolled
// region must for those who cannot use a mouse.
(function () {
  'use strict';

  const toggle = document.getElementById('mdbook-sidebar-toggle');
  if (toggle && toggle.nodeName === 'LABEL') toggle.setAttribute('role', 'button');

  function scrollable() {
    for (const box of document.querySelectorAll('main pre > code, main .table-wrapper')) {
      if (box.scrollWidth > box.clientWidth + 1 && !box.hasAttribute('tabindex')) {
        box.setAttribute('tabindex', '0');
        box.setAttribute('role', 'region');
        box.setAttribute('aria-label', box.nodeName === 'CODE' ? 'code, scrolls sideways' : 'table, scrolls sideways');
      }
    }
  }
  scrollable();
  window.addEventListener('resize', scrollable);
})();
