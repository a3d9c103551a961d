/**
 * The statechart's SVGs as a reader sees them: each one opened in headless Chromium at 1600 px wide (test/helpers/browser.ts
 * picks which Chromium), screenshotted into test-results/, and measured. A diagram is legible when it fits the width
 * without scrolling, its text is drawn at 11 px or more, no two texts overlap, every text stays inside the box drawn
 * behind it (a state, a compound state's header, an edge label's background), and no edge runs through a text other
 * than its own label.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statechart } from '../../docs/build/statechart.js';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { launchTestBrowser, SCREENSHOTS as screenshots } from '../helpers/browser.js';

const root = resolve(import.meta.dirname, '../..');
const WIDTH = 1600;
const MIN_FONT_SIZE = 11;
// Sub-pixel slack: boxes that merely touch do not overlap.
const SLACK = 0.5;

const { overview, details } = statechart(deviceAuthorizationChart);
const files = [overview, ...details].map((diagram) => `statechart-${diagram.name}.svg`);

let browser: Browser;

beforeAll(async () => {
  browser = await launchTestBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface Text {
  text: string;
  box: Box;
  /** The font size as drawn on screen, in CSS pixels. */
  fontSize: number;
  /** For an edge label, its edge (`from->to`). */
  edge?: string;
  /** The box drawn behind it: the renderer draws each text right after its box. */
  background?: Box;
}

interface Drawing {
  viewportWidth: number;
  scrollWidth: number;
  height: number;
  texts: Text[];
  /** Each edge's segments, by `from->to`. */
  edges: Record<string, Box[]>;
}

/** What Chromium drew: every text with its box and size, every edge's segments. Runs in the page. */
function measure(): Drawing {
  const boxOf = (element: Element): Box => {
    const { left, top, right, bottom } = element.getBoundingClientRect();
    return { left, top, right, bottom };
  };
  const texts = [...document.querySelectorAll('text')].map((text): Text => {
    const label = text.closest('g.edge-label');
    const scale = text.getScreenCTM()?.a ?? 1;
    const background = text.previousElementSibling?.tagName === 'rect' ? text.previousElementSibling : undefined;
    return {
      text: text.textContent ?? '',
      box: boxOf(text),
      fontSize: Number.parseFloat(getComputedStyle(text).fontSize) * scale,
      ...(label ? { edge: `${label.getAttribute('data-from')}->${label.getAttribute('data-to')}` } : {}),
      ...(background ? { background: boxOf(background) } : {}),
    };
  });
  const edges: Record<string, Box[]> = {};
  for (const line of document.querySelectorAll<SVGPolylineElement>('polyline.edge')) {
    const matrix = line.getScreenCTM()!;
    const points = [...line.points].map((point) => new DOMPoint(point.x, point.y).matrixTransform(matrix));
    edges[`${line.getAttribute('data-from')}->${line.getAttribute('data-to')}`] = points.slice(1).map((end, index) => {
      const start = points[index]!;
      return { left: Math.min(start.x, end.x), top: Math.min(start.y, end.y), right: Math.max(start.x, end.x), bottom: Math.max(start.y, end.y) };
    });
  }
  const svg = document.documentElement;
  return { viewportWidth: window.innerWidth, scrollWidth: svg.scrollWidth, height: svg.scrollHeight, texts, edges };
}

/** Whether `a` and `b` share more than {@link SLACK} in both directions. */
function overlap(a: Box, b: Box): boolean {
  return Math.min(a.right, b.right) - Math.max(a.left, b.left) > SLACK && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > SLACK;
}

/** Whether `segment` (a line, as a box of no width or no height) passes through the inside of `box`. */
function through(segment: Box, box: Box): boolean {
  return segment.left < box.right - SLACK && segment.right > box.left + SLACK && segment.top < box.bottom - SLACK && segment.bottom > box.top + SLACK;
}

function inside(inner: Box, outer: Box): boolean {
  return inner.left >= outer.left - SLACK && inner.right <= outer.right + SLACK && inner.top >= outer.top - SLACK && inner.bottom <= outer.bottom + SLACK;
}

/** Opens `file` at {@link WIDTH} px, saves a screenshot of all of it, and returns what was drawn. */
async function open(file: string): Promise<Drawing> {
  const page: Page = await browser.newPage({ viewport: { width: WIDTH, height: 800 } });
  try {
    await page.goto(pathToFileURL(join(root, 'docs', file)).href);
    const drawing = await page.evaluate(measure);
    // Playwright's fullPage screenshot waits forever on a bare SVG document: make the viewport as tall as the drawing.
    await page.setViewportSize({ width: WIDTH, height: Math.ceil(drawing.height) });
    await page.screenshot({ path: join(screenshots, file.replace(/\.svg$/, '.png')) });
    return drawing;
  } finally {
    await page.close();
  }
}

describe.each(files)(`docs/%s at ${WIDTH} px`, (file) => {
  let drawing: Drawing;

  beforeAll(async () => {
    drawing = await open(file);
  }, 30_000);

  it('fits the width: no horizontal scrolling', () => {
    expect(drawing.viewportWidth).toBe(WIDTH);
    expect(drawing.scrollWidth).toBeLessThanOrEqual(WIDTH);
  });

  it(`draws every text at ${MIN_FONT_SIZE} px or more`, () => {
    expect(drawing.texts.length).toBeGreaterThan(0);
    expect(drawing.texts.filter((text) => text.fontSize < MIN_FONT_SIZE - 0.01).map((text) => `${text.text} (${text.fontSize} px)`)).toEqual([]);
  });

  it('has no texts overlapping each other', () => {
    const overlaps = drawing.texts.flatMap((text, index) =>
      drawing.texts.slice(index + 1).filter((other) => overlap(text.box, other.box)).map((other) => `"${text.text}" over "${other.text}"`),
    );
    expect(overlaps).toEqual([]);
  });

  it('keeps every text inside the box drawn behind it', () => {
    expect(drawing.texts.filter((text) => text.background === undefined).map((text) => text.text)).toEqual([]);
    expect(drawing.texts.filter((text) => !inside(text.box, text.background!)).map((text) => text.text)).toEqual([]);
  });

  it('runs no edge through a text other than its own label', () => {
    const crossed = drawing.texts.flatMap((text) =>
      Object.entries(drawing.edges)
        .filter(([edge, segments]) => edge !== text.edge && segments.some((segment) => through(segment, text.box)))
        .map(([edge]) => `${edge} through "${text.text}"`),
    );
    expect(crossed).toEqual([]);
  });
});
