package present

// BotPRBodyWithin is BotPRBody within budget characters, so that a test
// can show a cut body in a golden file of readable size.
var BotPRBodyWithin = botPRBody
