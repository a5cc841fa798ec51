package runner

import (
	"errors"
	"fmt"

	"github.com/golamini/golamini/internal/chat"
	"github.com/golamini/golamini/internal/data"
)

// LoadChatFromJSONLines adds the conversations of a JSON-lines file whose
// records hold "messages" ([{"role": "system"|"user"|"assistant", "content":
// ...}], the format TRL and OpenAI use, with optional "tools") to the
// runner's chat data. Training renders them with the model's chat template
// and learns only the assistant replies and their end-of-turn token. Any
// problem is an error naming the file, line and key, and then nothing of the
// file is added.
func (r *Runner) LoadChatFromJSONLines(path string) error {
	convs, err := data.ReadChatJSONLines(path)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range convs {
		c.Row = len(r.chats)
		r.chats = append(r.chats, c)
	}
	r.log.Info().Str("source", path).Int("conversations", len(convs)).Int("total", len(r.chats)).Msg("chat data loaded")
	return nil
}

// ChatLen returns the number of loaded conversations.
func (r *Runner) ChatLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.chats)
}

// chatRows tokenizes the loaded conversations (and, with o.ChatTemplate, the
// loaded pairs as user/assistant turns) in the model's chat format. ok is
// false when neither applies and pairs train the plain way.
func (r *Runner) chatRows(o DataOptions) (trainRows, evalRows []data.Tokenized, ok bool, err error) {
	r.mu.Lock()
	convs := append([]data.Conversation(nil), r.chats...)
	pairs := append([]data.Example(nil), r.data.Examples()...)
	r.mu.Unlock()
	if len(convs) == 0 && !o.ChatTemplate {
		return nil, nil, false, nil
	}
	if len(convs) > 0 && len(pairs) > 0 && !o.ChatTemplate {
		return nil, nil, true, errors.New("runner: both chat data and question/answer pairs are loaded; set DataOptions.ChatTemplate to train the pairs in the chat format too, or ClearData")
	}
	if o.ChatTemplate {
		convs = append(convs, data.ChatFromPairs(pairs)...)
	}
	if len(convs) == 0 {
		return nil, nil, true, errors.New("runner: no data loaded (LoadChatFromJSONLines, LoadDataFromJSONLines, LoadDataFromCSV or LoadData first)")
	}
	ct, err := r.chatTraining(o)
	if err != nil {
		return nil, nil, true, err
	}
	var trainC, evalC []data.Conversation
	if o.EvalFraction > 0 {
		tr, te, err := data.Split(len(convs), o.EvalFraction, o.SplitSeed)
		if err != nil {
			return nil, nil, true, fmt.Errorf("runner: %w", err)
		}
		for _, i := range tr {
			trainC = append(trainC, convs[i])
		}
		for _, i := range te {
			evalC = append(evalC, convs[i])
		}
	} else {
		trainC = convs
	}
	if trainRows, err = ct.tokenize(trainC); err != nil {
		return nil, nil, true, err
	}
	if len(evalC) > 0 {
		if evalRows, err = ct.tokenize(evalC); err != nil {
			return nil, nil, true, err
		}
	}
	return trainRows, evalRows, true, nil
}

// chatFormat is what rendering conversations as training rows needs: the
// model's default chat template, the end-of-turn token that closes each
// learned assistant reply, and the length limits of o.
type chatFormat struct {
	r     *Runner
	t     *chat.Template
	eot   string
	topts data.ChatTokenizeOptions
}

// chatTraining loads the model's chat format for training or evaluating
// with data options o.
func (r *Runner) chatTraining(o DataOptions) (*chatFormat, error) {
	set, err := chat.Load(r.dir)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	t, err := set.Template("", false)
	if err != nil {
		return nil, fmt.Errorf("runner: training in the chat format: %w", err)
	}
	eot := set.Special["eos_token"]
	if eot == "" {
		return nil, fmt.Errorf("runner: %s names no eos_token to end assistant turns with", r.dir)
	}
	return &chatFormat{r: r, t: t, eot: eot, topts: data.ChatTokenizeOptions{EndOfTurn: eot, MaxLength: o.MaxLength,
		ContextLength: r.cfg.MaxPositionEmbeddings, TruncateLeft: !o.TruncateRight}}, nil
}

// tokenize renders and tokenizes convs, labels on the assistant turns only.
func (c *chatFormat) tokenize(convs []data.Conversation) ([]data.Tokenized, error) {
	var enc data.OffsetEncoder = c.r.tok
	rows, err := data.TokenizeChat(convs, c.t, enc, c.topts)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return rows, nil
}

// prompt renders question as a user turn followed by the assistant's
// generation prompt: the text an answer in the trained format continues.
func (c *chatFormat) prompt(question string) (string, error) {
	text, err := c.t.Render(chat.Input{Messages: []Message{{Role: "user", Content: question}}, AddGenerationPrompt: true})
	if err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	return text, nil
}
