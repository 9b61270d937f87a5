// Small checks the browser tests share.

/** Enough of playwright's Page to run a script in it. */
interface Evaluates {
  evaluate(script: string): Promise<unknown>;
}

/**
 * Non-blank pixels of the canvas under `[data-chart="<chart>"]`: a drawn chart has many, an empty one none.
 * (The script is a string: the tests' tsconfig has no DOM types.)
 */
export async function paintedPixels(page: Evaluates, chart: string): Promise<number> {
  return (await page.evaluate(`(() => {
    const cv = document.querySelector('[data-chart="${chart}"] canvas');
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  })()`)) as number;
}
