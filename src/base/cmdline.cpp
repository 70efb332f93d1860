// cmdline.cpp - vde_stackcmd() command splitting (see cmdline.hpp).
#include "base/cmdline.hpp"

namespace vdestack {


std::vector<Argv> split_commands(std::string_view line) {
    std::vector<Argv> out;
    Argv cur;
    std::string word;
    bool in_word = false;
    auto end_word = [&] {
        if (in_word) cur.push_back(std::move(word));
        word.clear();
        in_word = false;
    };
    auto end_command = [&] {
        end_word();
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
    };
    for (std::size_t i = 0; i < line.size();) {
        char c = line[i];
        if (c == ';') {
            end_command();
            i++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            end_word();
            i++;
        } else if (c == '\\') {
            in_word = true;
            if (i + 1 < line.size()) word += line[i + 1];
            i += 2;
        } else if (c == '\'') {
            in_word = true;
            std::size_t close = line.find('\'', i + 1);
            if (close == std::string_view::npos) close = line.size();
            word.append(line.substr(i + 1, close - i - 1));
            i = close + 1;
        } else if (c == '"') {
            in_word = true;
            i++;
            while (i < line.size() && line[i] != '"') {
                if (line[i] == '\\' && i + 1 < line.size()) {
                    word += line[i + 1];
                    i += 2;
                } else if (line[i] == '$') {
                    i++;  // the reference drops '$' and keeps the name
                } else {
                    word += line[i++];
                }
            }
            i++;  // closing quote (or past the end)
        } else if (c == '$') {
            in_word = true;
            i++;  // the reference drops '$' and keeps the name: "[$HOME]" -> "[HOME]"
        } else {
            in_word = true;
            word += c;
            i++;
        }
    }
    end_command();
    return out;
}

}  // namespace vdestack
