/** The files a case report is written as (light: the CLI's options name them without loading the writers). */
export const REPORT_FORMATS = ['html', 'stix', 'navigator'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const REPORT_FILES: Record<ReportFormat, string> = { html: 'report.html', stix: 'stix-bundle.json', navigator: 'navigator-layer.json' };
