// stap's per-unit function cache replayed with the real libstdc++ (an
// unordered_multimap keyed by name): reads one function a line, "NAME ALIAS...", in
// DIE order; prints the cache's entries, "NAME INDEX", in iteration order.
// tests/test_uprobe_aliases.py checks engine/elaborate/stap_order.py against it.
// The key's hash is a functor of our own, as stap's interned_string has: libstdc++
// then takes it for a fast hash and skips its small-table scan for an equal key, so a
// key equal to others goes before them.
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct NameHash {
	size_t operator()(const std::string &name) const noexcept
	{
		return std::hash<std::string_view>()(name);
	}
};

int main()
{
	std::vector<std::vector<std::string>> functions;
	std::string line;

	while (std::getline(std::cin, line)) {
		std::istringstream words(line);
		std::vector<std::string> names;
		std::string word;

		while (words >> word)
			names.push_back(word);
		functions.push_back(names);
	}

	std::unordered_multimap<std::string, int, NameHash> cache, added;

	for (size_t i = 0; i < functions.size(); i++)
		cache.insert({functions[i][0], (int)i});
	for (const auto &entry : cache)
		for (size_t a = 1; a < functions[entry.second].size(); a++)
			added.insert({functions[entry.second][a], entry.second});
	cache.insert(added.begin(), added.end());
	for (const auto &entry : cache)
		std::cout << entry.first << ' ' << entry.second << '\n';
	return 0;
}
