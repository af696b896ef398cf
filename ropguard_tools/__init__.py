"""Developer tools around ropguard, apart from what runs the template: ``make demo``'s story
against the offline stack, and the generator of docs/openapi.json."""
