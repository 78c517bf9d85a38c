/** "4, 1 2,2" → [1, 2, 4]; null unless every level is a whole number ≥ 1. */
export function parseLevels(text: string): number[] | null {
  const levels = text.split(/[\s,]+/).filter(Boolean).map(Number);
  return levels.length > 0 && levels.every((level) => Number.isInteger(level) && level >= 1) ? [...new Set(levels)].sort((a, b) => a - b) : null;
}
